"""Scripted faults: the next N matching requests fail, answer slowly, or lose their connection.

- ``fail``: answered with ``status`` (500, 503, 429...) before anything is processed: nothing
  is accepted, so a client may resend safely.
- ``slow``: processed (messages accepted), then answered after ``seconds``: a client with a
  shorter read timeout loses the answer of a request that did go through.
- ``drop``: the body is read, processed if ``accept`` (the default, the worst case), and the
  connection is closed without an answer.

Each fault can be limited to an ``endpoint`` and to requests carrying an email ``to`` a given
``recipient`` (which of several concurrent bulk requests fails is then certain).
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from attrs import define, frozen


@frozen
class Fault:
    kind: str  # "fail", "slow" or "drop"
    endpoint: str | None = None  # "email", "bulk-email", "bulk-status", "api-quota"; None = any
    recipient: str | None = None  # only requests with an email to this address; None = any
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    accept: bool = True


@define
class _Armed:
    fault: Fault
    left: int


class FaultScript:
    """The faults still to happen, first armed first served; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def fail(
        self,
        status: int = 500,
        *,
        times: int = 1,
        endpoint: str | None = None,
        recipient: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next ``times`` matching requests get ``status``, unprocessed."""
        self._arm(Fault("fail", endpoint, recipient, status=status, retry_after=retry_after), times)

    def slow(
        self, seconds: float, *, times: int = 1, endpoint: str | None = None, recipient: str | None = None
    ) -> None:
        """The next ``times`` matching requests are processed, then answered after ``seconds``."""
        self._arm(Fault("slow", endpoint, recipient, seconds=seconds), times)

    def drop(
        self,
        *,
        times: int = 1,
        endpoint: str | None = None,
        recipient: str | None = None,
        accept: bool = True,
    ) -> None:
        """The next ``times`` matching requests lose their connection once the body has been read."""
        self._arm(Fault("drop", endpoint, recipient, accept=accept), times)

    def _arm(self, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._armed.append(_Armed(fault, times))

    def take(self, endpoint: str, recipients: Collection[str] = ()) -> Fault | None:
        """The fault for this request, if one is armed for it (and count it); ``recipients``
        are the (lower-cased) addresses its emails go to."""
        with self._lock:
            for armed in self._armed:
                fault = armed.fault
                if fault.endpoint in (None, endpoint) and (
                    fault.recipient is None or fault.recipient.lower() in recipients
                ):
                    armed.left -= 1
                    if armed.left == 0:
                        self._armed.remove(armed)
                    return armed.fault
        return None

    @property
    def targets_recipients(self) -> bool:
        with self._lock:
            return any(a.fault.recipient is not None for a in self._armed)

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(a.left for a in self._armed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
