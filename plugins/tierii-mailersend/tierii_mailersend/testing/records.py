"""What the local MailerSend saw: every request, and every message it accepted for delivery."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen


@frozen
class AcceptedMessage:
    """One email MailerSend would deliver: one per recipient (a ``to`` list of n gives n)."""

    message_id: str
    recipient: str
    sender: str
    subject: str
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]
    endpoint: str  # "email" or "bulk-email"
    bulk_email_id: str | None = None
    reply_to: str | None = None
    recipient_name: str | None = None
    #: the ``list_unsubscribe`` sent with the email; None: MailerSend adds its own header
    list_unsubscribe: str | None = None

    def header(self, name: str) -> str | None:
        """The value of a custom header sent with the email (case-insensitive name)."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


@frozen
class RequestRecord:
    """One request as the server answered it; ``status`` None when the connection was dropped."""

    method: str
    path: str
    endpoint: str
    status: int | None
    at: float  # time.monotonic() when the answer was decided


class Journal:
    """Thread-safe lists of requests and accepted messages."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._requests: list[RequestRecord] = []
        self._messages: list[AcceptedMessage] = []

    def add_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()

    def add_messages(self, messages: Iterable[AcceptedMessage]) -> None:
        with self._lock:
            self._messages.extend(messages)
            self._lock.notify_all()

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        """Block until ``count`` requests have been answered (or dropped); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._requests) >= count, timeout)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[AcceptedMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._messages.clear()


def message_from_object(
    obj: Mapping[str, Any],
    recipient: Mapping[str, Any],
    message_id: str,
    endpoint: str,
    bulk_email_id: str | None,
) -> AcceptedMessage:
    """The record of an accepted email object (already validated) for one of its recipients."""
    headers = tuple((str(h.get("name")), str(h.get("value"))) for h in obj.get("headers") or ())
    reply_to = obj.get("reply_to") or {}
    return AcceptedMessage(
        message_id=message_id,
        recipient=str(recipient.get("email")),
        recipient_name=recipient.get("name"),
        sender=str((obj.get("from") or {}).get("email")),
        subject=str(obj.get("subject", "")),
        text=obj.get("text"),
        html=obj.get("html"),
        headers=headers,
        endpoint=endpoint,
        bulk_email_id=bulk_email_id,
        reply_to=reply_to.get("email") if isinstance(reply_to, Mapping) else None,
        list_unsubscribe=obj.get("list_unsubscribe"),
    )


def per_recipient(messages: Iterable[AcceptedMessage]) -> Counter:
    """How many messages each recipient (lower-cased) got: duplicates show as counts > 1."""
    return Counter(m.recipient.lower() for m in messages)
