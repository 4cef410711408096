"""SNS signatures and SES notifications, without a web server: what is genuine, what is
forged, which URLs a certificate may come from, and which events suppress whom."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_ses.notifications import MalformedNotification, SesNotification
from tierii_ses.sns import Forged, MalformedMessage, SignatureVerifier, SnsHosts, SnsMessage
from tierii_ses.testing.sns import LocalSns, bounce, complaint, delivery


@pytest.fixture(scope="module")
def sns() -> Iterator[LocalSns]:
    with LocalSns() as local:
        yield local


def parsed(message: dict) -> SnsMessage:
    return SnsMessage.parse(json.dumps(message).encode())


# -- which hosts are SNS's ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-central-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com:443/x.pem",
    ],
)
def test_sns_certificate_urls_are_allowed(url: str) -> None:
    assert SnsHosts().allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",  # not https
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",  # a suffix after the real name
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",  # the name in the path
        "https://sns.us-east-1.amazonaws.com@evil.example/cert.pem",  # the name as a user
        "https://user:pw@sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/sns.us-east-1/cert.pem",  # another AWS service anyone can write to
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",  # another port
        "https://127.0.0.1/cert.pem",
        "file:///etc/ssl/cert.pem",
        "",
    ],
)
def test_every_other_url_is_refused(url: str) -> None:
    assert not SnsHosts().allows(url)


def test_the_production_rule_refuses_the_local_sns(sns: LocalSns) -> None:
    """Only the test kit's explicit ``hosts`` makes 127.0.0.1 acceptable; the default never does."""
    message = parsed(sns.notification(bounce(["ann@example.com"])))
    with pytest.raises(Forged, match="not an SNS certificate URL"):
        SignatureVerifier().verify(message)
    assert SignatureVerifier(sns.hosts).verify(message) is None


# -- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_genuine_message_verifies_in_both_signature_versions(sns: LocalSns, version: str) -> None:
    SignatureVerifier(sns.hosts).verify(
        parsed(sns.notification(complaint(["a@example.com"]), version=version))
    )


def test_a_subscription_confirmation_verifies(sns: LocalSns) -> None:
    SignatureVerifier(sns.hosts).verify(parsed(sns.subscription_confirmation()))


def test_the_certificate_is_fetched_once(sns: LocalSns) -> None:
    verifier = SignatureVerifier(sns.hosts)
    before = sns.certificate_fetches
    for _ in range(3):
        verifier.verify(parsed(sns.notification(delivery(["a@example.com"]))))
    assert sns.certificate_fetches == before + 1


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "TopicArn", "Type", "Subject"])
def test_any_changed_signed_field_is_forged(sns: LocalSns, field: str) -> None:
    message = sns.notification(bounce(["ann@example.com"]))
    if field == "Type":
        message["Type"] = "SubscriptionConfirmation"
        message.update(SubscribeURL=sns.origin + "/?Action=ConfirmSubscription&Token=t", Token="t")
    elif field == "Subject":
        message["Subject"] = "added after signing"
    elif field == "Message":
        message["Message"] = json.dumps(bounce(["victim@example.com"]))
    else:
        message[field] = message[field] + "x"
    with pytest.raises(Forged):
        SignatureVerifier(sns.hosts).verify(parsed(message))


def test_a_message_signed_with_another_key_is_forged(sns: LocalSns) -> None:
    fields = sns.notification(bounce(["ann@example.com"]))
    forged = sns.sign({k: v for k, v in fields.items() if k not in {"Signature"}}, forged=True)
    with pytest.raises(Forged, match="does not match"):
        SignatureVerifier(sns.hosts).verify(parsed(forged))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"SignatureVersion": "3"}, "unknown SignatureVersion"),
        ({"Signature": "not base64!"}, "not base64"),
        ({"SigningCertURL": "https://evil.example/cert.pem"}, "not an SNS certificate URL"),
    ],
)
def test_other_forgeries(sns: LocalSns, change: dict, reason: str) -> None:
    message = {**sns.notification(bounce(["ann@example.com"])), **change}
    with pytest.raises(Forged, match=reason):
        SignatureVerifier(sns.hosts).verify(parsed(message))


def test_a_certificate_that_is_not_there_is_forged(sns: LocalSns) -> None:
    message = {**sns.notification(bounce(["ann@example.com"])), "SigningCertURL": sns.origin + "/missing.pem"}
    with pytest.raises(Forged, match="could not fetch"):
        SignatureVerifier(sns.hosts).verify(parsed(message))


@settings(max_examples=40, deadline=None)  # RSA signing on a loaded machine
@given(message=st.text(min_size=1, max_size=300), subject=st.none() | st.text(min_size=1, max_size=100))
def test_any_content_verifies_as_signed_and_not_once_changed(
    sns: LocalSns, message: str, subject: str | None
) -> None:
    """Unicode, newlines, JSON escapes: the signed string is rebuilt exactly from the JSON body."""
    fields = {
        "Type": "Notification",
        "MessageId": "2b6f1a52-test",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Message": message,
        "Timestamp": "2026-01-01T00:00:00.000Z",
        **({"Subject": subject} if subject is not None else {}),
    }
    verifier = SignatureVerifier(sns.hosts)
    signed = sns.sign(fields, version="2")
    verifier.verify(parsed(signed))
    with pytest.raises(Forged):
        verifier.verify(parsed({**signed, "Message": message + " "}))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"Type": "Other"}', b'{"Type": "Notification", "MessageId": "m"}'],
)
def test_malformed_sns_messages(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        SnsMessage.parse(body)


# -- SES notifications -------------------------------------------------------------------------


def test_a_permanent_bounce_suppresses_every_bounced_recipient() -> None:
    event = SesNotification.parse(json.dumps(bounce(["ann@example.com", '"Ben" <ben@example.com>'])))
    assert event.recipients == ("ann@example.com", "ben@example.com")
    assert event.suppression_reason == "ses: permanent bounce (General)"


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_other_bounces_suppress_nobody(bounce_type: str) -> None:
    event = SesNotification.parse(json.dumps(bounce(["ann@example.com"], bounce_type, "MailboxFull")))
    assert event.suppression_reason is None


@pytest.mark.parametrize("event_shape", [False, True])
def test_a_complaint_suppresses_in_both_shapes(event_shape: bool) -> None:
    event = SesNotification.parse(json.dumps(complaint(["ann@example.com"], event=event_shape)))
    assert event.suppression_reason == "ses: complaint (abuse)"
    assert event.recipients == ("ann@example.com",)


def test_a_delivery_suppresses_nobody() -> None:
    assert SesNotification.parse(json.dumps(delivery(["ann@example.com"]))).suppression_reason is None


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[]",
        json.dumps({"hello": "world"}),
        json.dumps({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}),
        json.dumps(bounce(["not an address"])),
    ],
)
def test_malformed_notifications(message: str) -> None:
    with pytest.raises(MalformedNotification):
        SesNotification.parse(message)


# -- any input: a verdict, never a crash ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
#: objects shaped like SES's, with any values where SES puts its fields
ses_like = st.fixed_dictionaries(
    {"notificationType": st.sampled_from(["Bounce", "Complaint", "Delivery"]) | json_values},
    optional={
        "bounce": st.fixed_dictionaries(
            {},
            optional={
                "bounceType": st.sampled_from(["Permanent", "Transient"]) | json_values,
                "bouncedRecipients": st.lists(
                    st.fixed_dictionaries({}, optional={"emailAddress": st.emails() | json_values})
                    | json_values,
                    max_size=3,
                )
                | json_values,
            },
        )
        | json_values,
        "complaint": json_values,
        "mail": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, ses_like))
def test_any_notification_is_read_or_refused_as_malformed(payload: object) -> None:
    try:
        event = SesNotification.parse(json.dumps(payload))
    except MalformedNotification:
        return
    if event.suppression_reason is not None:
        assert event.recipients, "a suppressing event names whom it suppresses"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_is_an_sns_message_or_refused_as_malformed(body: bytes) -> None:
    try:
        message = SnsMessage.parse(body)
    except MalformedMessage:
        return
    assert message.type in {"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"}
    message.string_to_sign()
