"""Contacts and messages for tests, built the way the core builds them."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from tierii_core.models import Address, Contact, Message

_ids = itertools.count(1)


def make_contact(email: str = "ann@example.com", origin: str = "test:1", **fields: Any) -> Contact:
    """A contact; ``fields`` are its template variables (``email`` is added)."""
    return Contact(email, {"email": email, **fields}, origin)


def make_message(
    email: str = "ann@example.com",
    *,
    name: str = "",
    subject: str = "Hello",
    text: str = "Hello,\n\nthis is a test message.\n",
    html: str | None = None,
    sender: Address | None = None,
    reply_to: Address | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Message:
    """A rendered message for one recipient, with a unique Message-ID."""
    sender = sender or Address("shop@example.com", "Example Shop")
    contact = make_contact(email, name=name) if name else make_contact(email)
    return Message(
        contact=contact,
        sender=sender,
        to=Address(email, name),
        subject=subject,
        text=text,
        html=html,
        reply_to=reply_to,
        headers=headers,
        message_id=f"<tierii-test.{next(_ids)}@{sender.email.rsplit('@', 1)[-1]}>",
        date=datetime.now(timezone.utc),
    )
