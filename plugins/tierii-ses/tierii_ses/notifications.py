"""SES bounce and complaint notifications (the ``Message`` of an SNS notification): which
recipients they put on the suppression list, and why.

Both shapes SES publishes are read: identity notifications (``notificationType``) and
configuration-set event publishing (``eventType``). A ``Permanent`` bounce and every
complaint suppress their recipients; ``Transient`` and ``Undetermined`` bounces (a full
mailbox, a message too large, an auto-reply) do not: the next campaign may reach them.
Deliveries and every other event are acknowledged and ignored.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen

from tierii_core.suppression import normalise

#: the source recorded with every suppression this receiver adds (``tierii suppress list``)
SOURCE = "ses-notification"


class MalformedNotification(ValueError):
    """A genuine SNS message whose content is not an SES notification this receiver can act on."""


@frozen
class SesNotification:
    kind: str  # Bounce, Complaint, Delivery, Send, Reject...
    recipients: tuple[str, ...]  # the bounced or complained-about addresses
    bounce_type: str | None = None  # Permanent, Transient, Undetermined
    detail: str | None = None  # bounce subtype, or the complaint's feedback type
    mail_message_id: str | None = None  # SES's id of the message the event is about

    @property
    def suppression_reason(self) -> str | None:
        """The reason recorded for each recipient, or None when nobody is suppressed."""
        if self.kind == "Bounce" and self.bounce_type == "Permanent":
            return f"ses: permanent bounce ({self.detail or 'General'})"
        if self.kind == "Complaint":
            return f"ses: complaint ({self.detail or 'unspecified'})"
        return None

    @classmethod
    def parse(cls, text: str) -> SesNotification:
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise MalformedNotification(f"the SNS Message is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise MalformedNotification("the SNS Message is not a JSON object")
        kind = payload.get("notificationType") or payload.get("eventType")
        if not isinstance(kind, str) or not kind:
            raise MalformedNotification("neither notificationType nor eventType: not an SES notification")
        mail = _mapping(payload.get("mail"))
        message_id = mail.get("messageId") if isinstance(mail.get("messageId"), str) else None
        if kind == "Bounce":
            bounce = _mapping(payload.get("bounce"))
            recipients = _addresses(bounce.get("bouncedRecipients"), kind)
            return cls(
                kind,
                recipients,
                bounce_type=_text(bounce.get("bounceType")),
                detail=_text(bounce.get("bounceSubType")),
                mail_message_id=message_id,
            )
        if kind == "Complaint":
            complaint = _mapping(payload.get("complaint"))
            recipients = _addresses(complaint.get("complainedRecipients"), kind)
            return cls(
                kind,
                recipients,
                detail=_text(complaint.get("complaintFeedbackType")),
                mail_message_id=message_id,
            )
        return cls(kind, (), mail_message_id=message_id)


def _addresses(entries: Any, kind: str) -> tuple[str, ...]:
    if not isinstance(entries, list) or not entries:
        raise MalformedNotification(f"a {kind} notification without recipients")
    found = []
    for entry in entries:
        address = _mapping(entry).get("emailAddress")
        if not isinstance(address, str):
            raise MalformedNotification(f"a {kind} recipient without emailAddress")
        address = _bare(address)
        try:
            normalise(address)
        except ValueError as exc:
            raise MalformedNotification(f"a {kind} notification for an invalid address: {exc}") from None
        found.append(address)
    return tuple(dict.fromkeys(found))


def _bare(address: str) -> str:
    """SES may give ``"Name" <ann@example.com>``: the address alone."""
    from email.utils import parseaddr

    _, email = parseaddr(address)
    return email or address.strip()


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
