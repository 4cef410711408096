"""MailerSend webhook calls, genuine and forged, for testing a webhook receiver.

Payloads are shaped like MailerSend's, in both formats: legacy (``version=1``: ``{type,
domain_id, created_at, webhook_id, url, data: {object: "activity", id, type, created_at,
email: {..., recipient: {email}}, morph: {...}}}``) and Webhooks 2.0 (``version=2``: ``{type,
created_at, data: {id, domain_id, message_id, email_id, type, subject, recipient, tags,
meta}}``, after the v2 fixtures of Symfony's MailerSend bridge); :func:`webhook_ping` is the
``webhook.test`` ping MailerSend sends when a webhook is saved, signed with
:data:`TEST_SECRET`. They are encoded
the way MailerSend encodes them: compact JSON with ``/`` escaped as ``\\/`` and non-ASCII as
``\\uXXXX``, so a receiver that re-serialises the body before checking the signature fails.
The signature is computed here independently of the receiver (hex HMAC-SHA256 of the body)::

    from tierii_mailersend.testing.webhooks import forge_webhook, sign_webhook, webhook_payload

    event = webhook_payload("activity.unsubscribed", "ana@example.com")
    assert sign_webhook(event, SECRET).post(url)[0] == 200
    assert forge_webhook(event).post(url)[0] == 401

``webhook_for(accepted_message, "activity.hard_bounced")`` builds the event MailerSend would send
about an email the local MailerSend accepted (same recipient, message id, sender, subject).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

import attrs
from attrs import frozen

from tierii_mailersend.testing.records import AcceptedMessage

#: the public secret MailerSend signs its ``webhook.test`` ping with (not the webhook's own)
TEST_SECRET = "test_Am3L1GuOIc4blLUuHqAPxxwkZaJyEk8G"

#: the activity events MailerSend sends (the reference's list)
EVENT_TYPES = (
    "activity.sent",
    "activity.delivered",
    "activity.soft_bounced",
    "activity.hard_bounced",
    "activity.opened",
    "activity.clicked",
    "activity.unsubscribed",
    "activity.spam_complaint",
)

#: ``data.morph`` per event, as seen in MailerSend's (sanitised) payloads; sent/delivered: null
_MORPHS: dict[str, dict[str, Any]] = {
    "soft_bounced": {"object": "recipient_bounce", "reason": "Mailbox full"},
    "hard_bounced": {"object": "recipient_bounce", "reason": "Host or domain name not found"},
    "opened": {"object": "open", "ip": "127.0.0.1"},
    "clicked": {"object": "click", "url": "https://shop.example/offer", "ip": "127.0.0.1"},
    "unsubscribed": {
        "object": "recipient_unsubscribe",
        "reason": "option_3",
        "readable_reason": "I get too many emails",
    },
    "spam_complaint": {"object": "spam_complaint", "reason": None},
}
_STATUS = {"sent": "sent", "soft_bounced": "rejected", "hard_bounced": "rejected"}
#: ``data.meta`` per event in Webhooks 2.0 (Symfony's v2 fixtures); others: null
_METAS: dict[str, Any] = {
    "soft_bounced": {"bounce_reason": "Mailbox full", "bounce_code": "452", "bounce_type": "soft"},
    "hard_bounced": {
        "bounce_reason": "Host or domain name not found",
        "bounce_code": "550",
        "bounce_type": "hard",
    },
    "unsubscribed": {"unsubscribe_reason": "NO_LONGER_WANT"},
    "spam_complaint": [],
    "spam_complaints": [],
    "clicked": {"url": "https://shop.example/offer", "ip": "127.0.0.1"},
    "opened": {"ip": "127.0.0.1"},
}
_DEFAULT = object()


def object_id() -> str:
    """A MailerSend-style id: 24 hex digits."""
    return secrets.token_hex(12)


def _timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def webhook_payload(
    event_type: str = "activity.unsubscribed",
    recipient: str = "recipient@example.com",
    *,
    message_id: str | None = None,
    email_id: str | None = None,
    sender: str = "shop@example.com",
    subject: str = "Hello",
    tags: list[str] | None = None,
    morph: Any = _DEFAULT,
    webhook_id: str = "webhook0000000000000000a",
    domain_id: str = "domain00000000000000000a",
    url: str = "https://shop.example/webhooks/mailersend",
    created_at: datetime | None = None,
    version: int = 1,
    recipient_key: str = "recipient",
    meta: Any = _DEFAULT,
) -> dict[str, Any]:
    """A webhook payload for ``event_type`` about an email to ``recipient``; ``morph`` (v1) and
    ``meta`` (v2) default to what MailerSend sends with that event (None for sent and
    delivered). ``version=2`` is the Webhooks 2.0 shape, the recipient under ``recipient_key``
    (``"recipient"`` as in recorded events, ``"email"`` as in the docs)."""
    short = event_type.removeprefix("activity.")
    when = _timestamp(created_at)
    if version == 2:
        return {
            "type": event_type,
            "created_at": when,
            "data": {
                "id": object_id(),
                "domain_id": domain_id,
                "message_id": message_id or object_id(),
                "email_id": email_id or object_id(),
                "type": _STATUS.get(short, "delivered"),
                "subject": subject,
                recipient_key: recipient,
                "tags": tags or [],
                "meta": _METAS.get(short) if meta is _DEFAULT else meta,
            },
        }
    if version != 1:
        raise ValueError(f"version {version!r}: MailerSend has webhook formats 1 (legacy) and 2")
    return {
        "type": event_type,
        "domain_id": domain_id,
        "created_at": when,
        "webhook_id": webhook_id,
        "url": url,
        "data": {
            "object": "activity",
            "id": object_id(),
            "type": short,
            "created_at": when,
            "email": {
                "object": "email",
                "id": email_id or object_id(),
                "created_at": when,
                "from": sender,
                "subject": subject,
                "status": _STATUS.get(short, "delivered"),
                "tags": tags,
                "headers": None,
                "message": {"object": "message", "id": message_id or object_id(), "created_at": when},
                "recipient": {
                    "object": "recipient",
                    "id": object_id(),
                    "email": recipient,
                    "created_at": when,
                },
            },
            "morph": _MORPHS.get(short) if morph is _DEFAULT else morph,
            "template_id": "",
        },
    }


def webhook_ping(created_at: datetime | None = None) -> dict[str, Any]:
    """The ``webhook.test`` ping (as Symfony's bridge records it): sign it with
    :data:`TEST_SECRET`, as MailerSend does: ``sign_webhook(webhook_ping(), TEST_SECRET)``."""
    message = "This is a ping test message"
    return {"type": "webhook.test", "message": message, "created_at": _timestamp(created_at)}


def webhook_for(message: AcceptedMessage, event_type: str, **changes: Any) -> dict[str, Any]:
    """The event MailerSend would send about ``message`` (one the local MailerSend accepted)."""
    fields: dict[str, Any] = {
        "message_id": message.message_id,
        "sender": message.sender,
        "subject": message.subject,
        **changes,
    }
    return webhook_payload(event_type, message.recipient, **fields)


def encode(payload: dict[str, Any]) -> bytes:
    """The body as MailerSend sends it: compact JSON, ``\\/`` for ``/``, ASCII only."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def signature(body: bytes, secret: str) -> str:
    """What MailerSend puts in the ``Signature`` header: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@frozen
class WebhookCall:
    """One webhook request: the raw body and the ``Signature`` header (None: no header)."""

    body: bytes
    signature: str | None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "MailerSend-Webhooks"}
        if self.signature is not None:
            headers["Signature"] = self.signature
        return headers

    def without_signature(self) -> WebhookCall:
        return attrs.evolve(self, signature=None)

    def post(self, url: str, timeout: float = 10.0) -> tuple[int, str]:
        """POST it to ``url``: the status and the body of the answer (errors included)."""
        request = urllib.request.Request(url, data=self.body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


def _body(payload: dict[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else encode(payload)


def sign_webhook(payload: dict[str, Any] | bytes, secret: str) -> WebhookCall:
    """A genuine call: ``payload`` (a dict, or raw bytes sent as they are) signed with ``secret``."""
    body = _body(payload)
    return WebhookCall(body, signature(body, secret))


def forge_webhook(
    payload: dict[str, Any] | bytes,
    secret: str = "an-attackers-own-secret",
    *,
    signature_value: str | None = None,
) -> WebhookCall:
    """A forged call: signed with a secret that is not the webhook's, or carrying
    ``signature_value`` as it is (any text, e.g. a signature of another body)."""
    body = _body(payload)
    return WebhookCall(body, signature_value if signature_value is not None else signature(body, secret))
