"""MailerSend webhooks: checking the signature, reading the event, deciding what it means.

MailerSend signs each webhook call: the ``Signature`` header is the hex HMAC-SHA256 of the raw
request body, keyed by the webhook's signing secret. The body is checked exactly as received,
before it is parsed (MailerSend escapes ``/`` as ``\\/``: a re-serialised body would not match).

Three events mean "never mail this address again" and put the recipient on TierII's suppression
list: hard bounces, spam complaints and unsubscribes. Every other event (sent, delivered,
soft_bounced, opened, clicked, suppressed, and types added later) is acknowledged and ignored.

Both payload formats are read, whichever the webhook was created with (detected per call):

- legacy (v1): ``data.email.recipient.email``, ``data.email.message.id``, ``data.morph``;
- Webhooks 2.0 (the default for new webhooks since September 2025): the recipient is a
  top-level string, ``data.recipient`` in recorded events (``data.email`` in the docs), the
  message id ``data.message_id``, details in ``data.meta``; complaints may be typed
  ``activity.spam_complaints``.

The recipient must be a valid address (:func:`tierii_core.addresses.normalise_address`): an
event for ``@gmail.com`` must not suppress a whole domain. MailerSend's ``webhook.test`` ping
(sent when a webhook is saved or tested) carries ``message``, not ``data``, and is signed with
a fixed public test secret: it is answered and changes nothing, and that secret never
authorises anything else. Nothing here imports a web framework: the server is
:mod:`tierii_mailersend.webhook_server`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen

from tierii_core.addresses import InvalidAddress, normalise_address
from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret

SIGNATURE_HEADER = "Signature"
SECRET_VARIABLE = "TIERII_MAILERSEND_WEBHOOK_SECRET"
#: the source recorded with every suppression this receiver adds (``tierii suppress list``)
SOURCE = "mailersend-webhook"

#: event type -> the suppression reason recorded for its recipient
SUPPRESSING: Mapping[str, str] = {
    "activity.hard_bounced": "mailersend: hard_bounced",
    "activity.spam_complaint": "mailersend: spam_complaint",
    "activity.spam_complaints": "mailersend: spam_complaint",  # Webhooks 2.0's name
    "activity.unsubscribed": "mailersend: unsubscribed",
}
#: the type of MailerSend's ping when a webhook is saved or tested
TEST_TYPE = "webhook.test"
#: the public secret MailerSend signs its ``webhook.test`` ping with (the same for every
#: account, as Symfony's MailerSend bridge and Hookdeck use it): it authorises the ping only
TEST_SECRET = "test_Am3L1GuOIc4blLUuHqAPxxwkZaJyEk8G"


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
        if TEST_SECRET in keys:
            # anyone can sign with it: it must never make a real event genuine
            raise ConfigurationError(
                f"{SECRET_VARIABLE} holds MailerSend's public test secret, which signs only the "
                "webhook.test ping: copy your webhook's own signing secret (Domains > your domain "
                "> Webhooks)"
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


def is_test_ping(body: bytes, signature: str | None) -> bool:
    """Whether this is MailerSend's ``webhook.test`` ping, signed with the public test secret:
    ``{"type": "webhook.test", "message": ..., "created_at": ...}`` and nothing that looks
    like an event (no ``data``). Only such a body is ever accepted under that secret."""
    if not signature:
        return False
    given = signature.strip().lower().encode("ascii", errors="replace")
    if not hmac.compare_digest(sign(body, TEST_SECRET).encode("ascii"), given):
        return False
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(payload, dict) and payload.get("type") == TEST_TYPE and "data" not in payload


class MalformedEvent(ValueError):
    """A signed body that is not a MailerSend event this receiver can act on."""


@frozen
class WebhookEvent:
    """The parts of a MailerSend webhook call that TierII uses (the rest is logged as ids)."""

    type: str
    recipient: str | None  # the normalised address, for the events that suppress
    event_id: str | None
    webhook_id: str | None
    message_id: str | None
    detail: str | None  # why, in MailerSend's words (v1 morph, v2 meta)
    format: str = "v1"  # "v1" (legacy) or "v2" (Webhooks 2.0)

    @property
    def suppression_reason(self) -> str | None:
        """The reason to record on the suppression list, or None when the event is ignored."""
        return SUPPRESSING.get(self.type)

    @property
    def is_test(self) -> bool:
        """MailerSend's ``webhook.test`` ping (here signed with the webhook's own secret)."""
        return self.type == TEST_TYPE

    @classmethod
    def parse(cls, body: bytes) -> WebhookEvent:
        """Read an event, either format; raise :class:`MalformedEvent` when it cannot be acted
        on safely (a suppressing event without a valid recipient address)."""
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
        if isinstance(data.get("email"), dict):  # legacy: data.email is the email object
            event = cls._v1(kind, payload, data)
        else:
            event = cls._v2(kind, payload, data)
        if kind in SUPPRESSING:
            if event.recipient is None:
                raise MalformedEvent(
                    f"a {kind} event without a recipient (data.email.recipient.email; "
                    "Webhooks 2.0: data.recipient)"
                )
            try:
                address = normalise_address(event.recipient)
            except InvalidAddress as exc:
                raise MalformedEvent(f"a {kind} event for an invalid address: {exc}") from None
            event = attrs.evolve(event, recipient=address)
        return event

    @classmethod
    def _v1(cls, kind: str, payload: Mapping[str, Any], data: Mapping[str, Any]) -> WebhookEvent:
        email = _mapping(data.get("email"))
        morph = _mapping(data.get("morph"))
        return cls(
            type=kind,
            recipient=_text(_mapping(email.get("recipient")).get("email")),
            event_id=_text(data.get("id")),
            webhook_id=_text(payload.get("webhook_id")),
            message_id=_text(_mapping(email.get("message")).get("id")),
            detail=_text(morph.get("readable_reason")) or _text(morph.get("reason")),
            format="v1",
        )

    @classmethod
    def _v2(cls, kind: str, payload: Mapping[str, Any], data: Mapping[str, Any]) -> WebhookEvent:
        named = {_text(data.get("recipient")), _text(data.get("email"))} - {None}
        if len(named) > 1:
            raise MalformedEvent("data.recipient and data.email name different addresses")
        meta = _mapping(data.get("meta"))
        reasons = ("readable_reason", "unsubscribe_reason", "bounce_reason", "reason")
        return cls(
            type=kind,
            recipient=next(iter(named), None),
            event_id=_text(data.get("id")),
            webhook_id=_text(payload.get("webhook_id")),
            message_id=_text(data.get("message_id")),
            detail=next((_text(meta.get(k)) for k in reasons if _text(meta.get(k))), None),
            format="v2",
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
