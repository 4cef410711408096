"""MailerSend webhooks: checking the signature, reading the event, deciding what it means.

MailerSend signs each webhook call: the ``Signature`` header is the hex HMAC-SHA256 of the raw
request body, keyed by the webhook's signing secret. The body is checked exactly as received,
before it is parsed (MailerSend escapes ``/`` as ``\\/``: a re-serialised body would not match).

Three events mean "never mail this address again" and put the recipient on TierII's suppression
list: ``activity.hard_bounced``, ``activity.spam_complaint`` and ``activity.unsubscribed``.
Every other event (sent, delivered, soft_bounced, opened, clicked, and types added later) is
acknowledged and ignored. Nothing here imports a web framework: the server is
:mod:`tierii_mailersend.webhook_server`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_core.suppression import normalise

SIGNATURE_HEADER = "Signature"
SECRET_VARIABLE = "TIERII_MAILERSEND_WEBHOOK_SECRET"
#: the source recorded with every suppression this receiver adds (``tierii suppress list``)
SOURCE = "mailersend-webhook"

#: event type -> the suppression reason recorded for its recipient
SUPPRESSING: Mapping[str, str] = {
    "activity.hard_bounced": "mailersend: hard_bounced",
    "activity.spam_complaint": "mailersend: spam_complaint",
    "activity.unsubscribed": "mailersend: unsubscribed",
}


def sign(body: bytes, key: str) -> str:
    """The ``Signature`` MailerSend sends with ``body``: hex HMAC-SHA256 keyed by ``key``."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


class SignatureCheck:
    """Checks ``Signature`` headers against one or more signing secrets (comma-separated in
    the setting: one per MailerSend webhook, or the old and the new one while rotating)."""

    def __init__(self, secret: Secret) -> None:
        keys = [part.strip() for part in secret.reveal().split(",")]
        if not any(keys):
            # an empty key would make every signature computable by anyone
            raise ConfigurationError(
                f"{SECRET_VARIABLE} is not set: copy the signing secret of your webhook from "
                "MailerSend (Domains > your domain > Webhooks)"
            )
        self._keys = tuple(key for key in keys if key)

    def __repr__(self) -> str:
        return f"SignatureCheck({len(self._keys)} secret(s), ********)"

    def genuine(self, body: bytes, signature: str | None) -> bool:
        """Whether ``signature`` is the HMAC of ``body`` under one of the secrets (constant time)."""
        if not signature:
            return False
        given = signature.strip().lower().encode("ascii", errors="replace")
        matched = False
        for key in self._keys:  # every key is tried: the time taken says nothing about which
            matched |= hmac.compare_digest(sign(body, key).encode("ascii"), given)
        return matched


class MalformedEvent(ValueError):
    """A signed body that is not a MailerSend event this receiver can act on."""


@frozen
class WebhookEvent:
    """The parts of a MailerSend webhook call that TierII uses (the rest is logged as ids)."""

    type: str
    recipient: str | None
    event_id: str | None
    webhook_id: str | None
    message_id: str | None
    detail: str | None  # morph.readable_reason or morph.reason: why, in MailerSend's words

    @property
    def suppression_reason(self) -> str | None:
        """The reason to record on the suppression list, or None when the event is ignored."""
        return SUPPRESSING.get(self.type)

    @classmethod
    def parse(cls, body: bytes) -> WebhookEvent:
        """Read an event; raise :class:`MalformedEvent` when it cannot be acted on safely."""
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise MalformedEvent("not a JSON object")
        kind = payload.get("type")
        if not isinstance(kind, str) or not kind:
            raise MalformedEvent("no event 'type'")
        data = _mapping(payload.get("data"))
        email = _mapping(data.get("email"))
        morph = _mapping(data.get("morph"))
        recipient = _text(_mapping(email.get("recipient")).get("email"))
        if kind in SUPPRESSING:
            if recipient is None:
                raise MalformedEvent(f"a {kind} event without data.email.recipient.email")
            try:
                normalise(recipient)
            except ValueError as exc:
                raise MalformedEvent(f"a {kind} event for an invalid address: {exc}") from None
        return cls(
            type=kind,
            recipient=recipient,
            event_id=_text(data.get("id")),
            webhook_id=_text(payload.get("webhook_id")),
            message_id=_text(_mapping(email.get("message")).get("id")),
            detail=_text(morph.get("readable_reason")) or _text(morph.get("reason")),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
