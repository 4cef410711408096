"""What the local ACS saw: every request, and every message it accepted."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from attrs import define, field, frozen


@frozen
class RequestRecord:
    """One request and its answer: ``operation`` is ``send``, ``status``, ``token`` or ``other``."""

    method: str
    path: str
    operation: str
    status: int


@define
class AcceptedMessage:
    """One message ACS answered 202 for, and where its operation stands."""

    operation_id: str
    sender: str
    recipient: str
    recipient_name: str | None
    subject: str
    text: str | None
    html: str | None
    reply_to: list[Mapping[str, str]] = field(factory=list)
    headers: Mapping[str, str] = field(factory=dict)
    status: str = "Running"
    error: Mapping[str, Any] | None = None


class Journal:
    """Thread-safe record of requests; waiters can block until a count is reached."""

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self._changed = threading.Condition()

    def add(self, record: RequestRecord) -> None:
        with self._changed:
            self.requests.append(record)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.requests) >= count, timeout)
