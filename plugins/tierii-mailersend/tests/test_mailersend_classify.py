"""MailerSend answers -> per-recipient outcomes, without a server (and with the emulator's
own answers, through :class:`Account` directly)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_core.errors import FatalProviderError
from tierii_core.models import ErrorKind, Message, Status
from tierii_mailersend import classify
from tierii_mailersend.client import Reply
from tierii_mailersend.payload import build_request
from tierii_mailersend.testing import Account

MS42207 = "The from.email domain must be verified in your account to send emails. #MS42207"


# -- retry-after ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("0.25", 0.25),
        ("0", 0.0),
        ("Wed, 01 Jan 2025 00:01:00 GMT", 60.0),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str, seconds: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert classify.retry_after({"retry-after": value} if value else {}, now=now) == seconds


# -- refused requests ------------------------------------------------------------------------


def test_429_is_transient_with_the_servers_retry_after(make_message: Callable[..., Message]) -> None:
    reply = Reply(
        429, {"retry-after": "17", "x-apiquota-remaining": "500"}, {"message": "rate limit #MS42903"}
    )
    outcomes = classify.refused(reply, [make_message(0), make_message(1)], bulk=True)
    assert [(o.kind, o.retry_after) for o in outcomes] == [(ErrorKind.TRANSIENT, 17.0)] * 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(make_message: Callable[..., Message], status: int) -> None:
    (outcome,) = classify.refused(
        Reply(status, {}, {"message": "Server Error"}), [make_message(0)], bulk=False
    )
    assert outcome.status is Status.FAILED
    assert outcome.kind is ErrorKind.TRANSIENT
    assert f"{status} Server Error" in outcome.reason


def test_a_gateway_timeout_is_unknown_not_resent(make_message: Callable[..., Message]) -> None:
    (outcome,) = classify.refused(Reply(504, {}, None), [make_message(0)], bulk=False)
    assert outcome.status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "TIERII_MAILERSEND_API_TOKEN"), (403, "token lacks"), (404, "TIERII_MAILERSEND_BASE_URL")],
)
def test_answers_that_stop_everything_raise_fatal(
    make_message: Callable[..., Message], status: int, words: str
) -> None:
    with pytest.raises(FatalProviderError, match=words):
        classify.refused(Reply(status, {}, {"message": "Unauthenticated."}), [make_message(0)], bulk=True)


def test_the_daily_quota_stops_the_run_until_the_reset(make_message: Callable[..., Message]) -> None:
    reply = Reply(
        429,
        {"retry-after": "3600", "x-apiquota-remaining": "0", "x-apiquota-reset": "2025-01-02T00:00:00Z"},
        {"message": "You have reached the daily quota. #MS42901"},
    )
    with pytest.raises(FatalProviderError, match="2025-01-02T00:00:00Z"):
        classify.refused(reply, [make_message(0)], bulk=True)


def test_a_422_on_a_single_email_fails_it_with_the_apis_words(make_message: Callable[..., Message]) -> None:
    reply = Reply(422, {}, {"message": "The given data was invalid.", "errors": {"from.email": [MS42207]}})
    (outcome,) = classify.refused(reply, [make_message(0)], bulk=False)
    assert outcome.kind is ErrorKind.PERMANENT
    assert "#MS42207" in outcome.reason
    assert "from.email" in outcome.reason


@given(count=st.integers(1, 60), data=st.data())
def test_a_bulk_422_fails_exactly_the_emails_it_names(
    make_message: Callable[..., Message], count: int, data: st.DataObject
) -> None:
    named = data.draw(st.sets(st.integers(0, count - 1)))
    key_style = data.draw(st.sampled_from(["message.{i}", "{i}.subject", "message.{i}.to.0.email"]))
    errors = {key_style.format(i=i): [f"problem {i}"] for i in named}
    messages = [make_message(i) for i in range(count)]
    outcomes = classify.refused(Reply(422, {}, {"message": "invalid", "errors": errors}), messages, bulk=True)
    assert [o.email for o in outcomes] == [m.contact.email for m in messages]
    for index, outcome in enumerate(outcomes):
        if not named:
            assert outcome.kind is ErrorKind.PERMANENT  # the request itself was refused
        elif index in named:
            assert outcome.kind is ErrorKind.PERMANENT
            assert f"problem {index}" in outcome.reason
        else:
            assert outcome.kind is ErrorKind.TRANSIENT  # not sent: safe to resend


# -- accepted single emails --------------------------------------------------------------------


def _warning(kind: str, *emails: str, reasons: tuple[str, ...] = ("hard_bounced",)) -> dict:
    return {
        "message": "There are some warnings for your request.",
        "warnings": [
            {
                "type": kind,
                "warning": "...",
                "recipients": [{"email": e, "reasons": list(reasons)} for e in emails],
            }
        ],
    }


def test_an_accepted_email_keeps_the_x_message_id(make_message: Callable[..., Message]) -> None:
    outcome = classify.accepted_email(Reply(202, {"x-message-id": "abc123"}), make_message(0))
    assert (outcome.status, outcome.provider_message_id) == (Status.SENT, "abc123")


@pytest.mark.parametrize("kind", ["SOME_SUPPRESSED", "ALL_SUPPRESSED"])
def test_a_suppression_warning_naming_the_recipient_fails_it(
    make_message: Callable[..., Message], kind: str
) -> None:
    body = _warning(kind, "USER0@example.com", reasons=("unsubscribed", "spam_complaint"))
    outcome = classify.accepted_email(Reply(202, {}, body), make_message(0))
    assert outcome.kind is ErrorKind.PERMANENT
    assert "unsubscribed, spam_complaint" in outcome.reason


def test_a_suppression_warning_for_someone_else_does_not(make_message: Callable[..., Message]) -> None:
    body = _warning("SOME_SUPPRESSED", "other@example.com")
    outcome = classify.accepted_email(Reply(202, {"x-message-id": "m1"}, body), make_message(0))
    assert outcome.status is Status.SENT


# -- completed bulk jobs ------------------------------------------------------------------------


@given(count=st.integers(1, 40), data=st.data())
def test_a_completed_bulk_job_fails_exactly_the_named_recipients(
    make_message: Callable[..., Message], count: int, data: st.DataObject
) -> None:
    indexes = st.sets(st.integers(0, count - 1))
    invalid = data.draw(indexes)
    suppressed = data.draw(indexes) - invalid
    sent = [i for i in range(count) if i not in invalid | suppressed]
    status = {
        "state": "completed",
        "validation_errors": {f"message.{i}": {"subject": [f"bad subject {i}"]} for i in invalid} or None,
        "suppressed_recipients": {
            f"message.{i}": {"to": {f"user{i}@example.com": ["blocklisted"]}} for i in suppressed
        }
        or None,
        "messages_id": [f"id{i}" for i in sent] or None,
    }
    messages = [make_message(i) for i in range(count)]
    outcomes = classify.completed_bulk(status, messages, "bulk1")
    assert [o.email for o in outcomes] == [m.contact.email for m in messages]
    for index, outcome in enumerate(outcomes):
        if index in invalid:
            assert outcome.kind is ErrorKind.PERMANENT and f"bad subject {index}" in outcome.reason
        elif index in suppressed:
            assert outcome.kind is ErrorKind.PERMANENT and "blocklisted" in outcome.reason
        else:
            assert (outcome.status, outcome.provider_message_id) == (Status.SENT, f"id{index}")


def test_suppressed_recipients_listed_by_address_are_matched_too(
    make_message: Callable[..., Message],
) -> None:
    status = {
        "state": "completed",
        "suppressed_recipients": [{"email": "USER1@example.com", "reasons": ["hard_bounced"]}],
    }
    outcomes = classify.completed_bulk(status, [make_message(0), make_message(1)], "b")
    assert [o.status for o in outcomes] == [Status.SENT, Status.FAILED]
    assert "hard_bounced" in outcomes[1].reason


def test_message_ids_that_do_not_line_up_fall_back_to_the_bulk_id(
    make_message: Callable[..., Message],
) -> None:
    status = {"state": "completed", "messages_id": ["only-one"]}
    outcomes = classify.completed_bulk(status, [make_message(0), make_message(1)], "bulk9")
    assert [o.provider_message_id for o in outcomes] == ["bulk9#0", "bulk9#1"]


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 30), data=st.data())
def test_the_emulators_bulk_answers_map_to_the_right_recipients(
    make_message: Callable[..., Message], count: int, data: st.DataObject
) -> None:
    """The emulator's real status shape, for arbitrary unverified senders and suppressions."""
    indexes = st.sets(st.integers(0, count - 1))
    unverified, suppressed = data.draw(indexes), data.draw(indexes)
    messages = [make_message(i) for i in range(count)]
    payload = []
    for index, message in enumerate(messages):
        body = build_request(message)
        if index in unverified:
            body["from"]["email"] = "shop@unverified.example"
        payload.append(body)
    account = Account(
        tokens={"t"},
        verified_domains={"example.com"},
        suppressed={f"user{i}@example.com": ["hard_bounced"] for i in suppressed},
        bulk_delay=0.0,
        suppression_keys=data.draw(st.sampled_from(["message_id", "index"])),
    )
    auth = {"authorization": "Bearer t"}
    accepted = account.handle("POST", "/v1/bulk-email", auth, json.dumps(payload).encode())
    status = account.handle("GET", f"/v1/bulk-email/{accepted.body['bulk_email_id']}", auth, b"")
    outcomes = classify.completed_bulk(status.body["data"], messages, accepted.body["bulk_email_id"])
    for index, outcome in enumerate(outcomes):
        if index in unverified:
            assert "#MS42207" in outcome.reason
        elif index in suppressed:
            assert "hard_bounced" in outcome.reason
        else:
            assert outcome.status is Status.SENT
    delivered = {m.recipient for m in account.messages}
    assert delivered == {o.email for o in outcomes if o.status is Status.SENT}
    assert {o.provider_message_id for o in outcomes if o.status is Status.SENT} == {
        m.message_id for m in account.messages
    }
