"""The local MailerSend speaks the documented API: the real SDK and raw HTTP against it."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from mailersend import EmailBuilder, MailerSendClient
from mailersend.exceptions import AuthenticationError, BadRequestError

from tierii_mailersend.testing import LocalMailerSend, RateLimit, per_recipient


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def email(to: str = "ada@example.com", sender: str = "shop@example.com", **extra: Any) -> dict[str, Any]:
    body = {
        "from": {"email": sender, "name": "Shop"},
        "to": [{"email": to, "name": "Ada"}],
        "subject": "Hi",
        "text": "Hello",
    }
    body.update(extra)
    return body


class Raw:
    """requests against the server, with or without the token."""

    def __init__(self, api: LocalMailerSend) -> None:
        self.api = api
        self.session = requests.Session()

    def __call__(
        self, method: str, path: str, body: Any = None, token: str | None = "default", **kw: Any
    ) -> requests.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.api.token if token == 'default' else token}"
        return self.session.request(method, self.api.base_url + path, json=body, headers=headers, **kw)


@pytest.fixture
def raw(local_mailersend: LocalMailerSend) -> Iterator[Raw]:
    client = Raw(local_mailersend)
    yield client
    client.session.close()


def sdk_client(api: LocalMailerSend, token: str | None = None) -> MailerSendClient:
    return MailerSendClient(api_key=token or api.token, base_url=api.base_url, max_retries=0)


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_a_wrong_or_missing_token_gets_the_apis_401(raw: Raw, token: str | None) -> None:
    reply = raw("POST", "email", email(), token=token)
    assert reply.status_code == 401
    assert reply.json() == {"message": "Unauthenticated."}
    assert raw.api.messages == []


def test_the_sdk_raises_its_authentication_error(local_mailersend: LocalMailerSend) -> None:
    with sdk_client(local_mailersend, token="nope") as client, pytest.raises(AuthenticationError):
        client.api_quota.get_quota()


# -- POST /v1/email ----------------------------------------------------------------------------


def test_an_email_sent_with_the_sdk_is_recorded_exactly(local_mailersend: LocalMailerSend) -> None:
    request = (
        EmailBuilder()
        .from_email("shop@example.com", "Shop")
        .to("zoë@example.com", "Zoë")
        .reply_to("help@example.com")
        .subject("Grüße, Zoë — 10 % off")
        .text("Hallo Zoë\n")
        .html("<p>Hallo Zoë &amp; co</p>")
        .header("List-Unsubscribe", "<https://example.com/u/1>")
        .build()
    )
    with sdk_client(local_mailersend) as client:
        response = client.emails.send(request)
    assert response.status_code == 202
    (message,) = local_mailersend.messages
    assert response.data["id"] == message.message_id
    assert len(message.message_id) == 24
    assert (message.recipient, message.recipient_name, message.sender) == (
        "zoë@example.com",
        "Zoë",
        "shop@example.com",
    )
    assert (message.subject, message.text, message.html) == (
        "Grüße, Zoë — 10 % off",
        "Hallo Zoë\n",
        "<p>Hallo Zoë &amp; co</p>",
    )
    assert message.header("list-unsubscribe") == "<https://example.com/u/1>"
    assert message.reply_to == "help@example.com"
    # recorded (mailersend-python's cassettes, e.g. email_send_text_only.yaml, 2025-07-29): an
    # account without a daily quota answers x-apiquota-remaining: -1, and no x-ratelimit-*
    assert response.headers["x-apiquota-remaining"] == "-1"
    assert response.headers["x-apiquota-reset"].endswith("T00:00:00Z")
    assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)


def test_an_unverified_sender_domain_gets_ms42207() -> None:
    with LocalMailerSend(verified_domains=["example.com"]) as api, sdk_client(api) as client:
        request = (
            EmailBuilder()
            .from_email("shop@elsewhere.example")
            .to("a@example.com")
            .subject("s")
            .text("t")
            .build()
        )
        with pytest.raises(BadRequestError) as caught:
            client.emails.send(request)
        assert caught.value.response.status_code == 422
        assert caught.value.response.json() == {
            "message": "The given data was invalid.",
            "errors": {
                "from.email": [
                    "The from.email domain must be verified in your account to send emails. #MS42207"
                ]
            },
        }
        assert api.messages == []


def test_missing_fields_are_named(raw: Raw) -> None:
    reply = raw("POST", "email", {"to": [{"email": "not-an-address"}]})
    assert reply.status_code == 422
    errors = reply.json()["errors"]
    assert errors["from.email"] == ["The from.email field is required."]
    assert errors["subject"] == ["The subject field is required."]
    assert errors["to.0.email"] == ["The to.0.email must be a valid email address."]
    assert "text" in errors


def test_a_subject_over_998_characters_is_refused(raw: Raw) -> None:
    assert raw("POST", "email", email(subject="x" * 998)).status_code == 202
    reply = raw("POST", "email", email(subject="x" * 999))
    assert reply.status_code == 422
    assert reply.json()["errors"] == {"subject": ["The subject may not be greater than 998 characters."]}
    assert len(raw.api.messages) == 1


def test_some_suppressed_recipients_get_a_warning(raw: Raw) -> None:
    raw.api.suppress("gone@example.com", "hard_bounced")
    body = email(to="ada@example.com")
    body["to"].append({"email": "gone@example.com", "name": "Gone"})
    reply = raw("POST", "email", body)
    assert reply.status_code == 202
    assert reply.headers["x-message-id"]
    (warning,) = reply.json()["warnings"]
    assert warning["type"] == "SOME_SUPPRESSED"
    assert warning["recipients"] == [
        {"email": "gone@example.com", "name": "Gone", "reasons": ["hard_bounced"]}
    ]
    assert [m.recipient for m in raw.api.messages] == ["ada@example.com"]


def test_all_suppressed_comes_without_a_message_id(raw: Raw) -> None:
    raw.api.suppress("gone@example.com", "unsubscribed")
    reply = raw("POST", "email", email(to="gone@example.com"))
    assert reply.status_code == 202
    assert "x-message-id" not in reply.headers
    assert reply.json()["warnings"][0]["type"] == "ALL_SUPPRESSED"
    assert raw.api.messages == []


# -- bulk ------------------------------------------------------------------------------------


def test_a_bulk_job_is_queued_then_completed_after_its_delay() -> None:
    clock = FakeClock()
    with LocalMailerSend(
        bulk_delay=5.0, clock=clock, verified_domains=["example.com"], suppression_keys="index"
    ) as api:
        api.suppress("b@example.com", "blocklisted")
        raw = Raw(api)
        objects = [
            email("a@example.com"),
            email("b@example.com"),
            email("c@example.com", sender="x@other.example"),
        ]
        accepted = raw("POST", "bulk-email", objects)
        assert accepted.status_code == 202
        assert accepted.json()["message"] == "The bulk email is being processed."
        bulk_id = accepted.json()["bulk_email_id"]
        queued = raw("GET", f"bulk-email/{bulk_id}").json()["data"]
        assert (queued["state"], queued["messages_id"], queued["total_recipients_count"]) == (
            "queued",
            None,
            3,
        )
        assert api.messages == []
        clock.now += 5.0
        done = raw("GET", f"bulk-email/{bulk_id}").json()["data"]
        assert done["state"] == "completed"
        assert done["validation_errors_count"] == 1
        assert "#MS42207" in done["validation_errors"]["message.2"]["from.email"][0]
        assert done["suppressed_recipients_count"] == 1
        assert done["suppressed_recipients"] == {"message.1": {"to": {"b@example.com": ["blocklisted"]}}}
        assert [m.recipient for m in api.messages] == ["a@example.com"]
        assert done["messages_id"] == [api.messages[0].message_id]
        raw.session.close()


def test_the_sdk_reads_bulk_answers(local_mailersend: LocalMailerSend) -> None:
    requests_ = [
        EmailBuilder().from_email("s@example.com").to(f"r{i}@example.com").subject("s").text("t").build()
        for i in range(3)
    ]
    with sdk_client(local_mailersend) as client:
        accepted = client.emails.send_bulk(requests_)
        status = client.emails.get_bulk_status(accepted.data["bulk_email_id"])
    assert accepted.status_code == 202
    assert status.data["data"]["id"] == accepted.data["bulk_email_id"]


def test_more_than_500_emails_in_one_bulk_request_are_refused(raw: Raw) -> None:
    reply = raw("POST", "bulk-email", [email(f"u{i}@example.com") for i in range(501)])
    assert reply.status_code == 422
    assert "500" in json.dumps(reply.json()["errors"])
    assert raw("POST", "bulk-email", [email(f"u{i}@example.com") for i in range(500)]).status_code == 202


def test_an_unknown_bulk_id_is_404_and_a_wrong_method_405(raw: Raw) -> None:
    assert raw("GET", "bulk-email/000000000000000000000000").status_code == 404
    assert raw("GET", "email").status_code == 405
    assert raw("GET", "nothing-here").status_code == 404


# -- limits and quota --------------------------------------------------------------------------


def test_a_per_minute_limit_answers_429_with_retry_after_and_ratelimit_headers() -> None:
    clock = FakeClock()
    with LocalMailerSend(clock=clock, limits={"email": RateLimit(2)}) as api:
        raw = Raw(api)
        first, second = raw("POST", "email", email()), raw("POST", "email", email())
        # as recorded: the x-ratelimit-* headers come with a 429, not with every answer
        assert "x-ratelimit-limit" not in first.headers and "x-ratelimit-remaining" not in second.headers
        clock.now += 20.0
        refused = raw("POST", "email", email())
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "40"
        assert (refused.headers["x-ratelimit-limit"], refused.headers["x-ratelimit-remaining"]) == ("2", "0")
        assert "rate limit of 2 requests/min" in refused.json()["message"]
        assert "#MS42903" in refused.json()["message"]
        assert raw("GET", "api-quota").status_code == 200  # another group, another limit
        clock.now += 40.0
        assert raw("POST", "email", email()).status_code == 202
        assert len(api.messages) == 3
        raw.session.close()


def test_a_scaled_down_window_gives_fractional_retry_after() -> None:
    clock = FakeClock()
    with LocalMailerSend(clock=clock, limits={"bulk-email": RateLimit(1, window=0.5)}) as api:
        raw = Raw(api)
        assert raw("POST", "bulk-email", [email()]).status_code == 202
        clock.now += 0.2
        assert raw("POST", "bulk-email", [email()]).headers["retry-after"] == "0.300"
        raw.session.close()


def test_the_daily_quota_runs_out_with_ms42901() -> None:
    with LocalMailerSend(daily_quota=2) as api:
        raw = Raw(api)
        assert raw("POST", "email", email()).headers["x-apiquota-remaining"] == "1"
        assert raw("POST", "email", email()).headers["x-apiquota-remaining"] == "0"
        refused = raw("POST", "email", email())
        assert refused.status_code == 429
        assert "#MS42901" in refused.json()["message"]
        assert int(refused.headers["retry-after"]) >= 1
        assert raw("GET", "api-quota").json()["remaining"] == 0
        assert raw("GET", "api-quota").json()["quota"] == 2
        assert len(api.messages) == 2
        raw.session.close()


# -- faults ------------------------------------------------------------------------------------


def test_scripted_500s_fail_the_next_requests_without_accepting_them(raw: Raw) -> None:
    raw.api.faults.fail(500, times=2, endpoint="email")
    assert raw("GET", "api-quota").status_code == 200  # another endpoint is unaffected
    assert [raw("POST", "email", email()).status_code for _ in range(3)] == [500, 500, 202]
    assert len(raw.api.messages) == 1
    assert raw.api.faults.pending == 0


def test_a_fault_can_target_the_request_carrying_a_recipient(raw: Raw) -> None:
    raw.api.faults.fail(503, endpoint="bulk-email", recipient="Target@example.com")
    assert raw("POST", "bulk-email", [email("other@example.com")]).status_code == 202
    assert raw("POST", "bulk-email", [email("x@example.com"), email("target@example.com")]).status_code == 503
    assert raw("POST", "bulk-email", [email("target@example.com")]).status_code == 202


def test_a_slow_answer_trips_the_clients_read_timeout_after_the_email_was_accepted(raw: Raw) -> None:
    raw.api.faults.slow(5.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        raw("POST", "email", email(), timeout=0.2)
    assert [m.recipient for m in raw.api.messages] == ["ada@example.com"]


@pytest.mark.parametrize(("accept", "recorded"), [(True, 1), (False, 0)])
def test_a_dropped_connection_after_the_body_was_read(raw: Raw, accept: bool, recorded: int) -> None:
    raw.api.faults.drop(accept=accept)
    with pytest.raises(requests.exceptions.ConnectionError):
        raw("POST", "email", email())
    assert len(raw.api.messages) == recorded
    assert raw.api.requests[-1].status is None
    assert raw("POST", "email", email()).status_code == 202  # the next connection works


def test_stopping_does_not_wait_for_a_slow_answer() -> None:
    api = LocalMailerSend().start()
    api.faults.slow(3600)
    started = threading.Event()

    def call() -> None:
        started.set()
        with contextlib.suppress(requests.exceptions.ConnectionError):
            Raw(api)("POST", "email", email(), timeout=3600)

    caller = threading.Thread(target=call)
    caller.start()
    started.wait()
    assert api.wait_for_requests(1)  # the request is in the server's hands, its answer delayed
    api.stop()
    caller.join()
    assert len(api.messages) == 1


# -- the connection and the record ---------------------------------------------------------------


def test_connections_are_kept_alive(local_mailersend: LocalMailerSend) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_mailersend.port)
    headers = {"Authorization": f"Bearer {local_mailersend.token}", "Content-Type": "application/json"}
    for _ in range(3):
        connection.request("POST", "/v1/email", body=json.dumps(email()), headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 202
        assert not response.will_close
    connection.close()
    assert len(local_mailersend.messages) == 3


def test_the_record_is_complete_under_concurrent_clients(local_mailersend: LocalMailerSend) -> None:
    def worker(n: int) -> None:
        with sdk_client(local_mailersend) as client:
            for i in range(25):
                request = (
                    EmailBuilder()
                    .from_email("s@example.com")
                    .to(f"w{n}-{i}@example.com")
                    .subject("s")
                    .text("t")
                    .build()
                )
                client.emails.send(request)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = per_recipient(local_mailersend.messages)
    assert len(counts) == 200
    assert set(counts.values()) == {1}
    assert len({m.message_id for m in local_mailersend.messages}) == 200


def test_it_listens_on_the_loopback_only(local_mailersend: LocalMailerSend) -> None:
    assert local_mailersend.base_url.startswith("http://127.0.0.1:")
    assert local_mailersend.environment()["TIERII_MAILERSEND_BASE_URL"] == local_mailersend.base_url
