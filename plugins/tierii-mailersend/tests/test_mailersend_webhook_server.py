"""The webhook endpoint over real HTTP on 127.0.0.1: uvicorn in a thread on a free port,
MailerSend's calls made by the test helper (genuine and forged), the suppression list read
back, and a campaign afterwards that leaves the suppressed address out."""

from __future__ import annotations

import asyncio
import csv
import http.client
import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from structlog.testing import capture_logs

from tierii_core.cli import cli
from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_core.pending import PendingSuppressions
from tierii_core.suppression import SuppressionList
from tierii_core.testing.state_lock import hold_state_lock
from tierii_mailersend.testing import (
    EVENT_TYPES,
    TEST_SECRET,
    LocalMailerSend,
    WebhookCall,
    forge_webhook,
    sign_webhook,
    webhook_for,
    webhook_payload,
    webhook_ping,
)
from tierii_mailersend.testing.fixtures import FAST_SETTINGS
from tierii_mailersend.testing.webhooks import encode, signature
from tierii_mailersend.webhook_server import DEFAULT_PATH, MAX_BODY, WebhookServer, make_app
from tierii_mailersend.webhooks import SUPPRESSING

SECRET = "whsec-0123456789abcdef-test"
#: MailerSend's other events, and one this receiver has never heard of
IGNORED_TYPES = [*sorted(set(EVENT_TYPES) - set(SUPPRESSING)), "activity.survey_opened"]


@contextmanager
def running(
    state_dir: Path, secret: str = SECRET, path: str = DEFAULT_PATH, app: Starlette | None = None
) -> Iterator[str]:
    """The endpoint (or ``app``) served by uvicorn on a free port of 127.0.0.1; yields its URL."""
    app = app or make_app(Secret(secret), state_dir, path)
    server = WebhookServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10), "the webhook server did not start"
        yield f"http://127.0.0.1:{server.port}{path}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "state"
    with running(state) as url:
        yield url, state


def entries(state: Path) -> list[tuple[str, str, str]]:
    return [(s.entry, s.reason, s.source) for s in SuppressionList(state, read_only=True)]


def request(url: str, method: str, body: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


# -- genuine events ---------------------------------------------------------------------------


def test_a_genuine_unsubscribe_suppresses_the_address(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    with capture_logs() as logs:
        answer = sign_webhook(webhook_payload("activity.unsubscribed", "Zoe@Example.com"), SECRET).post(url)
    assert answer == (200, "suppressed\n")
    assert entries(state) == [("zoe@example.com", "mailersend: unsubscribed", "mailersend-webhook")]
    assert SuppressionList(state, read_only=True).suppressed(["zoe@example.com"]) == {"zoe@example.com"}
    (event,) = [e for e in logs if e["event"] == "webhook.suppressed"]
    assert (event["email"], event["type"], event["already"]) == (
        "Zoe@example.com",  # the address as checked: the domain lower-case
        "activity.unsubscribed",
        False,
    )
    assert event["detail"] == "I get too many emails"
    assert SECRET not in repr(logs)


@pytest.mark.parametrize("kind", ["hard_bounced", "spam_complaint", "unsubscribed"])
def test_each_suppressing_event_records_its_reason(endpoint: tuple[str, Path], kind: str) -> None:
    url, state = endpoint
    assert sign_webhook(webhook_payload(f"activity.{kind}", "ana@example.com"), SECRET).post(url)[0] == 200
    assert entries(state) == [("ana@example.com", f"mailersend: {kind}", "mailersend-webhook")]


def test_a_repeated_event_changes_nothing_and_an_earlier_entry_keeps_its_reason(
    endpoint: tuple[str, Path],
) -> None:
    url, state = endpoint
    SuppressionList(state).add(["ben@example.com"], "asked by phone", "manual")
    SuppressionList(state).add(["@blocked.example"], "whole domain", "manual")
    call = sign_webhook(webhook_payload("activity.hard_bounced", "ana@example.com"), SECRET)
    assert call.post(url) == (200, "suppressed\n")
    assert call.post(url) == (200, "already suppressed\n")  # MailerSend retries what it thinks failed
    for address in ("Ben@Example.com", "zed@blocked.example"):
        complaint = sign_webhook(webhook_payload("activity.spam_complaint", address), SECRET)
        assert complaint.post(url) == (200, "already suppressed\n")
    assert entries(state) == [
        ("@blocked.example", "whole domain", "manual"),
        ("ana@example.com", "mailersend: hard_bounced", "mailersend-webhook"),
        ("ben@example.com", "asked by phone", "manual"),
    ]


@pytest.mark.parametrize("event_type", IGNORED_TYPES)
def test_other_events_are_acknowledged_and_ignored(endpoint: tuple[str, Path], event_type: str) -> None:
    url, state = endpoint
    answer = sign_webhook(webhook_payload(event_type, "ana@example.com"), SECRET).post(url)
    assert answer == (200, f"ignored: {event_type}\n")
    assert entries(state) == []


def test_each_of_several_secrets_is_accepted(tmp_path: Path) -> None:
    with running(tmp_path, secret="old-secret-1, new-secret-2") as url:
        assert sign_webhook(webhook_payload(recipient="a@example.com"), "old-secret-1").post(url)[0] == 200
        assert sign_webhook(webhook_payload(recipient="b@example.com"), "new-secret-2").post(url)[0] == 200
        assert sign_webhook(webhook_payload(recipient="c@example.com"), "other-secret").post(url)[0] == 401
    assert [e[0] for e in entries(tmp_path)] == ["a@example.com", "b@example.com"]


def test_a_locked_database_queues_the_suppression_answers_200_and_applies_it_when_it_frees(
    tmp_path: Path,
) -> None:
    """Another process holds the state database's lock: nothing is lost, MailerSend need not retry."""
    app = make_app(Secret(SECRET), tmp_path)
    with running(tmp_path, app=app) as url, hold_state_lock(tmp_path):
        answer = sign_webhook(webhook_payload("activity.hard_bounced", "ana@example.com"), SECRET).post(url)
        assert answer == (200, "suppressed\n")
        assert [item.entry for _, item in PendingSuppressions(tmp_path).entries()] == ["ana@example.com"]
    assert app.state.suppressor.applied.wait(10), "the queue was not applied when the lock freed"
    assert PendingSuppressions(tmp_path).entries() == []
    assert [e[0] for e in entries(tmp_path)] == ["ana@example.com"]


# -- refused calls ----------------------------------------------------------------------------


def test_forged_or_missing_signatures_are_401_and_change_nothing(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    payload = webhook_payload("activity.unsubscribed", "ceo@example.com")
    genuine = sign_webhook(payload, SECRET)
    other_body = encode(webhook_payload("activity.unsubscribed", "intern@example.com"))
    attempts = {
        "another secret": forge_webhook(payload),
        "no header": genuine.without_signature(),
        "empty header": forge_webhook(payload, signature_value=""),
        "another body's signature": forge_webhook(payload, signature_value=signature(other_body, SECRET)),
        "body re-serialised": WebhookCall(json.dumps(payload).encode(), genuine.signature),
        "signature truncated": forge_webhook(payload, signature_value=genuine.signature[:-2]),
    }
    with capture_logs() as logs:
        answers = {name: call.post(url) for name, call in attempts.items()}
    assert answers == {
        "another secret": (401, "invalid signature\n"),
        "no header": (401, "missing Signature header\n"),
        "empty header": (401, "missing Signature header\n"),
        "another body's signature": (401, "invalid signature\n"),
        "body re-serialised": (401, "invalid signature\n"),
        "signature truncated": (401, "invalid signature\n"),
    }
    assert entries(state) == []
    rejected = [e for e in logs if e["event"] == "webhook.rejected"]
    assert len(rejected) == len(attempts) and {e["status"] for e in rejected} == {401}
    assert not [e for e in logs if e["event"] == "webhook.suppressed"]
    assert SECRET not in repr(logs)
    assert genuine.post(url) == (200, "suppressed\n")  # the same event, genuinely signed


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"data": {}}', "no event 'type'"),
        (b'{"type": "activity.unsubscribed", "data": {"email": {}}}', "without a recipient"),
    ],
)
def test_a_signed_but_malformed_body_is_400(endpoint: tuple[str, Path], body: bytes, problem: str) -> None:
    url, state = endpoint
    status, text = sign_webhook(body, SECRET).post(url)
    assert status == 400 and text.startswith("malformed event: ") and problem in text
    assert entries(state) == []


def test_a_malformed_body_with_a_wrong_signature_is_401_not_400(endpoint: tuple[str, Path]) -> None:
    url, _ = endpoint
    assert forge_webhook(b"{not json").post(url)[0] == 401  # nothing is read before the signature


def test_only_post_on_the_path_is_served(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    assert request(url, "GET") == 405
    assert request(url, "PUT", b"{}") == 405
    call = sign_webhook(webhook_payload("activity.unsubscribed", "ana@example.com"), SECRET)
    assert call.post(url.replace(DEFAULT_PATH, "/elsewhere"))[0] == 404
    assert entries(state) == []


def test_a_huge_body_is_refused_unread(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        # only the headers go out: the answer comes without waiting for the announced megabyte
        connection.putrequest("POST", parts.path)
        connection.putheader("Content-Length", str(MAX_BODY + 1))
        connection.putheader("Signature", "0" * 64)
        connection.endheaders()
        response = connection.getresponse()
        assert (response.status, response.read()) == (413, f"body larger than {MAX_BODY} bytes\n".encode())
    finally:
        connection.close()
    assert entries(state) == []


def test_a_huge_body_without_a_length_is_cut_off(tmp_path: Path) -> None:
    """Chunked, so no Content-Length to refuse it by: reading stops past the limit. Driven
    through the ASGI interface, which shows how much was read (over a socket, the client would
    still be sending when the answer comes)."""
    chunk = b" " * 65536
    total = MAX_BODY // len(chunk) * 4
    read = 0
    answer: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < total}

    async def send(message: dict) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": DEFAULT_PATH,
        "headers": [(b"signature", b"0" * 64), (b"transfer-encoding", b"chunked")],
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8026),
    }
    asyncio.run(make_app(Secret(SECRET), tmp_path)(scope, receive, send))
    assert answer[0]["status"] == 413
    assert answer[1]["body"] == f"body larger than {MAX_BODY} bytes\n".encode()
    assert read == MAX_BODY // len(chunk) + 1  # the first chunk past the limit, and no more
    assert entries(tmp_path) == []


def test_a_custom_path(tmp_path: Path) -> None:
    with running(tmp_path, path="/hooks/ms-7f3a") as url:
        assert url.endswith("/hooks/ms-7f3a")
        assert sign_webhook(webhook_payload(recipient="a@example.com"), SECRET).post(url)[0] == 200


# -- any wrong signature ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One server for the property test's many examples."""
    state = tmp_path_factory.mktemp("webhook-state")
    with running(state) as url:
        yield url, state


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)
_WRONG = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64),  # looks like a signature
    _HEADER_TEXT,
    st.text(min_size=1, max_size=30).map(lambda key: ("key", key)),  # a genuine MAC, another key
)
_BODIES = st.one_of(
    st.binary(max_size=2048),
    st.builds(
        lambda kind, email: encode(webhook_payload(kind, email)),
        st.sampled_from(EVENT_TYPES),
        st.emails(),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODIES, wrong=_WRONG)
def test_any_body_with_a_wrong_signature_is_refused(
    shared_endpoint: tuple[str, Path], body: bytes, wrong: str | tuple[str, str]
) -> None:
    url, state = shared_endpoint
    value = signature(body, wrong[1]) if isinstance(wrong, tuple) else wrong
    assume(value.strip().lower() != signature(body, SECRET))
    status, _ = WebhookCall(body, value).post(url)
    assert status == 401
    assert entries(state) == []


# -- and then a campaign ----------------------------------------------------------------------

TEMPLATE = """\
Subject: Spring offers for {{first_name}}
From: The Shop <shop@example.com>

Dear {{first_name}}, our spring offers are here.

--
Advertisement.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""


@pytest.fixture
def campaign_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("TIERII_") and name != "TIERII_MAILERSEND_BASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TIERII_SENDER_ADDRESS", "The Shop, 1 Main Street, Springfield")
    monkeypatch.setenv("TIERII_UNSUBSCRIBE_URL", "https://shop.example/unsubscribe")
    monkeypatch.setenv("TIERII_UNSUBSCRIBE_SECRET", "a-long-enough-secret-for-signing-links")
    (tmp_path / "offer.mustache").write_text(TEMPLATE, encoding="utf-8")
    with (tmp_path / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name"])
        writer.writerows([["ana@example.com", "Ana"], ["ben@example.com", "Ben"], ["cy@example.com", "Cy"]])
    return tmp_path


def test_after_a_bounce_webhook_the_next_campaign_leaves_the_address_out(
    campaign_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    state = campaign_dir / "state"
    with LocalMailerSend(bulk_delay=0.01, limits={"bulk-email": None, "other": None}) as api:
        for name, value in {**api.environment(), **FAST_SETTINGS}.items():
            monkeypatch.setenv(name, value)
        first = runner.invoke(cli, ["send", "contacts.csv", "-t", "offer.mustache", "--campaign", "march"])
        assert first.exit_code == 0, first.output
        (to_ben,) = api.messages_to("ben@example.com")

        # MailerSend reports that Ben's mailbox does not exist, about the very email it accepted
        with running(state) as url:
            answer = sign_webhook(webhook_for(to_ben, "activity.hard_bounced"), SECRET).post(url)
        assert answer == (200, "suppressed\n")

        listed = runner.invoke(cli, ["suppress", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert [(e["entry"], e["reason"], e["source"]) for e in json.loads(listed.output)] == [
            ("ben@example.com", "mailersend: hard_bounced", "mailersend-webhook")
        ]

        second = runner.invoke(cli, ["send", "contacts.csv", "-t", "offer.mustache", "--campaign", "april"])
        assert second.exit_code == 0, second.output  # an excluded recipient is not a failure
        assert len(api.messages_to("ben@example.com")) == 1  # March's, and nothing since
        assert len(api.messages_to("ana@example.com")) == len(api.messages_to("cy@example.com")) == 2

    status = runner.invoke(cli, ["status", "april", "--json", "--list", "excluded"])
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["counts"]["sent"] == 2 and report["counts"]["excluded"] == 1
    (excluded,) = report["recipients"]["excluded"]
    assert (excluded["email"], excluded["reason"]) == ("ben@example.com", "suppressed")


# -- MailerSend as the real service behaves (issue 15.1, 15.2, 11.11) -----------------------------

#: Webhooks 2.0 bodies, shaped like the v2 fixtures of Symfony's MailerSend bridge
#: (src/Symfony/Component/Mailer/Bridge/MailerSend/Tests/Webhook/v2/Fixtures/*.json): the
#: recipient a top-level string (data.recipient; data.email in the docs and in sent_email_key.json)
V2_UNSUBSCRIBED = (
    b'{"type":"activity.unsubscribed","created_at":"2026-01-01T12:00:00.000000Z","data":{'
    b'"id":"62f114f8165fe0d8db0288e5","domain_id":"dnvo4d93e0ng5r86","message_id":'
    b'"67f91abd69f79df391e9d78d","email_id":"67f91abe2202f3705540234a","type":"delivered",'
    b'"subject":"Test subject","recipient":"test@example.com","tags":["test-tag"],'
    b'"meta":{"unsubscribe_reason":"NO_LONGER_WANT"}}}'
)
#: MailerSend's webhook.test ping and its Signature under the public test secret, exactly as
#: Symfony's bridge test records them (Tests/Webhook/v2/MailerSendRequestParserTest.php)
PING = (
    b'{"type":"webhook.test","message":"This is a ping test message",'
    b'"created_at":"2026-04-08T12:19:27.608339Z"}'
)
PING_SIGNATURE = "7fb29be5b1cdb588ee67fa43a0a9d1b394cbb9603a0ac0b87924649d715194c2"


def test_a_recorded_webhooks_2_0_unsubscribe_suppresses_its_recipient(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    with capture_logs() as logs:
        assert sign_webhook(V2_UNSUBSCRIBED, SECRET).post(url) == (200, "suppressed\n")
    assert entries(state) == [("test@example.com", "mailersend: unsubscribed", "mailersend-webhook")]
    (event,) = [e for e in logs if e["event"] == "webhook.suppressed"]
    assert (event["format"], event["message_id"], event["detail"]) == (
        "v2",
        "67f91abd69f79df391e9d78d",
        "NO_LONGER_WANT",
    )


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("activity.hard_bounced", "mailersend: hard_bounced"),
        ("activity.spam_complaint", "mailersend: spam_complaint"),
        ("activity.spam_complaints", "mailersend: spam_complaint"),  # 2.0's complaint type
        ("activity.unsubscribed", "mailersend: unsubscribed"),
    ],
)
@pytest.mark.parametrize("recipient_key", ["recipient", "email"])
def test_webhooks_2_0_events_suppress_as_legacy_ones_do(
    endpoint: tuple[str, Path], event_type: str, reason: str, recipient_key: str
) -> None:
    url, state = endpoint
    payload = webhook_payload(event_type, "Ana@Example.com", version=2, recipient_key=recipient_key)
    assert sign_webhook(payload, SECRET).post(url) == (200, "suppressed\n")
    assert entries(state) == [("ana@example.com", reason, "mailersend-webhook")]


@pytest.mark.parametrize("event_type", ["activity.delivered", "activity.opened", "activity.suppressed"])
def test_other_webhooks_2_0_events_are_ignored(endpoint: tuple[str, Path], event_type: str) -> None:
    url, state = endpoint
    answer = sign_webhook(webhook_payload(event_type, "ana@example.com", version=2), SECRET).post(url)
    assert answer == (200, f"ignored: {event_type}\n")
    assert entries(state) == []


def test_a_forged_webhooks_2_0_event_is_401(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    assert forge_webhook(V2_UNSUBSCRIBED).post(url)[0] == 401
    assert sign_webhook(V2_UNSUBSCRIBED, SECRET).without_signature().post(url)[0] == 401
    assert entries(state) == []


def test_the_webhook_test_ping_is_answered_200_and_changes_nothing(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    assert WebhookCall(PING, PING_SIGNATURE).post(url) == (200, "test ping received\n")
    assert sign_webhook(webhook_ping(), TEST_SECRET).post(url) == (200, "test ping received\n")
    assert sign_webhook(webhook_ping(), SECRET).post(url) == (200, "test ping received\n")
    assert entries(state) == []


@pytest.mark.parametrize("version", [1, 2])
def test_the_public_test_secret_never_authorises_a_real_event(
    endpoint: tuple[str, Path], version: int
) -> None:
    url, state = endpoint
    event = webhook_payload("activity.unsubscribed", "ceo@example.com", version=version)
    assert sign_webhook(event, TEST_SECRET).post(url)[0] == 401
    # a ping that also carries an event's data is not a ping
    assert sign_webhook({**webhook_ping(), "data": event["data"]}, TEST_SECRET).post(url)[0] == 401
    assert entries(state) == []


def test_the_public_test_secret_cannot_be_configured_as_the_webhooks_own(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="public test secret"):
        make_app(Secret(f"{SECRET},{TEST_SECRET}"), tmp_path / "state")


@pytest.mark.parametrize(
    "recipient", ["@gmail.com", "a@b@c.example", "gmail.com", "ana@", "ana @example.com"]
)
@pytest.mark.parametrize("version", [1, 2])
def test_an_event_for_an_invalid_recipient_is_400_and_suppresses_nothing(
    endpoint: tuple[str, Path], recipient: str, version: int
) -> None:
    url, state = endpoint
    payload = webhook_payload("activity.spam_complaint", recipient, version=version)
    status, answer = sign_webhook(payload, SECRET).post(url)
    assert (status, answer.startswith("malformed event:")) == (400, True)
    assert "invalid address" in answer
    assert entries(state) == []  # "@gmail.com" would have suppressed a whole domain


def test_after_a_webhooks_2_0_unsubscribe_from_mailersends_own_header_the_next_campaign_leaves_it_out(
    campaign_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TIERII_MAILERSEND_UNSUBSCRIBE=mailersend: the header is MailerSend's, and its unsubscribe
    comes back through activity.unsubscribed (2.0) to TierII's suppression list."""
    runner = CliRunner()
    state = campaign_dir / "state"
    with LocalMailerSend(bulk_delay=0.01, plan="hobby", limits={"bulk-email": None, "other": None}) as api:
        for name, value in {**api.environment(), **FAST_SETTINGS}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TIERII_MAILERSEND_UNSUBSCRIBE", "mailersend")
        first = runner.invoke(cli, ["send", "contacts.csv", "-t", "offer.mustache", "--campaign", "march"])
        assert first.exit_code == 0, first.output
        (to_ana,) = api.messages_to("ana@example.com")
        assert to_ana.list_unsubscribe is None  # MailerSend's own header went out

        with running(state) as url:
            answer = sign_webhook(webhook_for(to_ana, "activity.unsubscribed", version=2), SECRET).post(url)
        assert answer == (200, "suppressed\n")

        second = runner.invoke(cli, ["send", "contacts.csv", "-t", "offer.mustache", "--campaign", "april"])
        assert second.exit_code == 0, second.output
        assert len(api.messages_to("ana@example.com")) == 1
        assert len(api.messages_to("ben@example.com")) == 2
