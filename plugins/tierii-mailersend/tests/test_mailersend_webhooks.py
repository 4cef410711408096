"""Webhook signatures and events, without a server: what is genuine, what each event means,
and that the test helper's payloads look like MailerSend's."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_mailersend.testing import (
    EVENT_TYPES,
    TEST_SECRET,
    forge_webhook,
    sign_webhook,
    webhook_payload,
    webhook_ping,
)
from tierii_mailersend.testing.webhooks import encode
from tierii_mailersend.webhooks import (
    SUPPRESSING,
    MalformedEvent,
    SignatureCheck,
    WebhookEvent,
    is_test_ping,
    sign,
)

SECRET = "whsec-known-answer"
CHECK = SignatureCheck(Secret(SECRET))


def test_the_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # computed apart: printf '%s' '{"type":"activity.unsubscribed"}' \
    #   | openssl dgst -sha256 -hmac whsec-known-answer
    body = b'{"type":"activity.unsubscribed"}'
    expected = "55bbb5ae2a7d17f46307d15adebe6641054b9e47a6c3a4c1708314e40a42d852"
    assert sign(body, SECRET) == expected
    assert sign_webhook(body, SECRET).signature == expected  # the test helper agrees, computed apart
    assert CHECK.genuine(body, expected)
    assert CHECK.genuine(body, expected.upper())  # the same MAC, written in capitals


def test_the_body_is_checked_as_received_not_as_re_serialised() -> None:
    payload = webhook_payload("activity.unsubscribed", "ana@example.com")
    call = sign_webhook(payload, SECRET)
    assert b"\\/" in call.body  # MailerSend escapes "/" (in the url field)
    assert CHECK.genuine(call.body, call.signature)
    assert not CHECK.genuine(json.dumps(payload).encode(), call.signature)


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not hex at all", "é" * 64])
def test_missing_or_made_up_signatures_are_not_genuine(signature: str | None) -> None:
    assert not CHECK.genuine(b"{}", signature)


def test_a_signature_made_with_another_secret_is_not_genuine() -> None:
    call = forge_webhook(webhook_payload(), secret="someone-elses-secret")
    assert not CHECK.genuine(call.body, call.signature)


@given(body=st.binary(max_size=512), key=st.text(min_size=1, max_size=40))
def test_only_the_right_secret_makes_a_genuine_signature(body: bytes, key: str) -> None:
    assume(key.strip() and key.strip() != SECRET and "," not in key)
    assert CHECK.genuine(body, sign(body, SECRET))
    assert not CHECK.genuine(body, sign(body, key))


@given(body=st.binary(max_size=512), other=st.binary(max_size=512))
def test_a_signature_never_transfers_to_another_body(body: bytes, other: bytes) -> None:
    assume(body != other)
    assert not CHECK.genuine(other, sign(body, SECRET))


def test_several_secrets_any_of_them_signs() -> None:
    check = SignatureCheck(Secret("old-secret, new-secret"))
    assert check.genuine(b"x", sign(b"x", "old-secret"))
    assert check.genuine(b"x", sign(b"x", "new-secret"))
    assert not check.genuine(b"x", sign(b"x", "old-secret, new-secret"))
    assert "old-secret" not in repr(check)


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_an_empty_secret_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TIERII_MAILERSEND_WEBHOOK_SECRET is not set"):
        SignatureCheck(Secret(value))


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("activity.hard_bounced", "mailersend: hard_bounced"),
        ("activity.spam_complaint", "mailersend: spam_complaint"),
        ("activity.unsubscribed", "mailersend: unsubscribed"),
    ],
)
def test_three_events_suppress_their_recipient(event_type: str, reason: str) -> None:
    payload = webhook_payload(event_type, "Ana@Example.com", message_id="63fd1c1d5f010335ed07066b")
    event = WebhookEvent.parse(encode(payload))
    assert (event.type, event.recipient, event.suppression_reason) == (event_type, "Ana@example.com", reason)
    assert event.message_id == "63fd1c1d5f010335ed07066b"
    assert event.event_id == payload["data"]["id"]
    assert event.webhook_id == payload["webhook_id"]


@pytest.mark.parametrize(
    "event_type", [*sorted(set(EVENT_TYPES) - set(SUPPRESSING)), "activity.survey_opened"]
)
def test_every_other_event_is_ignored(event_type: str) -> None:
    assert WebhookEvent.parse(encode(webhook_payload(event_type))).suppression_reason is None


def test_the_reason_in_mailersends_words_is_kept_for_the_log() -> None:
    unsubscribed = WebhookEvent.parse(encode(webhook_payload("activity.unsubscribed")))
    bounced = WebhookEvent.parse(encode(webhook_payload("activity.hard_bounced")))
    complaint = WebhookEvent.parse(encode(webhook_payload("activity.spam_complaint")))
    assert unsubscribed.detail == "I get too many emails"  # readable_reason first
    assert bounced.detail == "Host or domain name not found"
    assert complaint.detail is None  # MailerSend sends "reason": null


def test_an_ignored_event_needs_no_recipient() -> None:
    assert WebhookEvent.parse(b'{"type": "activity.opened", "data": null}').recipient is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"data": {}}', "no event 'type'"),
        (b'{"type": 7}', "no event 'type'"),
        (b'{"type": "activity.unsubscribed", "data": {}}', "without a recipient"),
        (
            b'{"type": "activity.hard_bounced", "data": {"email": {"recipient": {"email": 5}}}}',
            "without a recipient",
        ),
        (
            b'{"type": "activity.spam_complaint", "data": {"email": {"recipient": {"email": "nobody"}}}}',
            "invalid address",
        ),
    ],
)
def test_what_cannot_be_acted_on_is_malformed(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedEvent, match=problem):
        WebhookEvent.parse(body)


@given(st.binary(max_size=256))
def test_any_body_parses_or_is_malformed_never_crashes(body: bytes) -> None:
    try:
        event = WebhookEvent.parse(body)
    except MalformedEvent:
        return
    assert isinstance(event.type, str)
    if event.suppression_reason is not None:
        assert event.recipient


def test_the_helper_builds_payloads_shaped_like_the_reference() -> None:
    payload = webhook_payload("activity.hard_bounced", "gone@example.com", tags=["spring"])
    assert set(payload) == {"type", "domain_id", "created_at", "webhook_id", "url", "data"}
    data = payload["data"]
    assert (data["object"], data["type"]) == ("activity", "hard_bounced")
    assert {"id", "type", "created_at", "email", "morph"} <= set(data)
    email = data["email"]
    assert {"id", "status", "tags", "message", "recipient"} <= set(email)
    assert email["recipient"]["email"] == "gone@example.com"
    assert email["tags"] == ["spring"]
    assert email["status"] == "rejected"
    assert set(data["morph"]) >= {"object", "reason"}
    assert len(data["id"]) == 24 and int(data["id"], 16) >= 0
    assert data["created_at"].endswith("Z")
    assert encode(payload).isascii()


# -- Webhooks 2.0, the test ping, invalid recipients (issues 15.1, 15.2, 11.11) ----------------------


def test_a_webhooks_2_0_event_is_read_from_its_own_fields() -> None:
    # shaped like Symfony's MailerSend bridge v2 fixture hard_bounced.json
    payload = webhook_payload("activity.hard_bounced", "test@example.com", version=2, message_id="67f91abd")
    assert "email" not in payload["data"] and payload["data"]["recipient"] == "test@example.com"
    event = WebhookEvent.parse(encode(payload))
    assert (event.format, event.recipient, event.message_id) == ("v2", "test@example.com", "67f91abd")
    assert (event.suppression_reason, event.detail) == (
        "mailersend: hard_bounced",
        "Host or domain name not found",
    )
    # data.email as a string: the docs' name for the same field (Symfony's sent_email_key.json)
    documented = webhook_payload(
        "activity.spam_complaints", "t@example.com", version=2, recipient_key="email"
    )
    assert WebhookEvent.parse(encode(documented)).recipient == "t@example.com"


def test_a_webhooks_2_0_event_naming_two_recipients_is_malformed() -> None:
    payload = webhook_payload("activity.unsubscribed", "a@example.com", version=2)
    payload["data"]["email"] = "b@example.com"
    with pytest.raises(MalformedEvent, match="different addresses"):
        WebhookEvent.parse(encode(payload))


@pytest.mark.parametrize("recipient", ["@gmail.com", "a@b@c.example", "gmail.com", "a@", "a b@example.com"])
def test_a_suppressing_event_for_an_invalid_address_is_malformed(recipient: str) -> None:
    for version in (1, 2):
        with pytest.raises(MalformedEvent, match="invalid address"):
            WebhookEvent.parse(encode(webhook_payload("activity.unsubscribed", recipient, version=version)))


def test_the_ping_helper_is_signed_as_mailersend_signs_its_ping() -> None:
    # body and Signature recorded in Symfony's bridge test (v2/MailerSendRequestParserTest.php)
    body = (
        b'{"type":"webhook.test","message":"This is a ping test message",'
        b'"created_at":"2026-04-08T12:19:27.608339Z"}'
    )
    recorded = "7fb29be5b1cdb588ee67fa43a0a9d1b394cbb9603a0ac0b87924649d715194c2"
    assert sign_webhook(body, TEST_SECRET).signature == recorded
    assert is_test_ping(body, recorded)
    assert not is_test_ping(body, sign(body, SECRET))  # the ping under another key is not the public one
    assert set(webhook_ping()) == {"type", "message", "created_at"}
    assert WebhookEvent.parse(body).is_test and WebhookEvent.parse(body).suppression_reason is None


def test_only_a_pure_ping_is_accepted_under_the_public_test_secret() -> None:
    event = encode(webhook_payload("activity.unsubscribed", "ceo@example.com"))
    assert not is_test_ping(event, sign(event, TEST_SECRET))
    fake = encode({**webhook_ping(), "data": {"recipient": "ceo@example.com"}})
    assert not is_test_ping(fake, sign(fake, TEST_SECRET))
    with pytest.raises(ConfigurationError, match="public test secret"):
        SignatureCheck(Secret(TEST_SECRET))


addresses = st.one_of(
    st.emails(),
    st.text(max_size=40),
    st.sampled_from(["@gmail.com", "a@b@c.example", "Ana@Example.COM", " ana@example.com ", ""]),
)


@settings(max_examples=150, deadline=None)
@given(
    event_type=st.sampled_from([*SUPPRESSING, "activity.delivered", "activity.opened"]),
    recipient=addresses,
    recipient_key=st.sampled_from(["recipient", "email"]),
)
def test_both_formats_mean_the_same_for_any_recipient(
    event_type: str, recipient: str, recipient_key: str
) -> None:
    """A legacy event and its Webhooks 2.0 twin suppress the same address, or are both refused."""
    results = []
    for payload in (
        webhook_payload(event_type, recipient),
        webhook_payload(event_type, recipient, version=2, recipient_key=recipient_key),
    ):
        try:
            event = WebhookEvent.parse(encode(payload))
        except MalformedEvent:
            results.append("malformed")
        else:
            results.append((event.suppression_reason, event.recipient if event.suppression_reason else None))
    assert results[0] == results[1]
    if isinstance(results[0], tuple) and results[0][0] is not None:
        assert "@" in results[0][1] and not results[0][1].startswith("@")
