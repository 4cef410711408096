"""Per-minute request limits (fixed windows, like MailerSend's Laravel throttle) and the daily quota.

A window opens at the first request of a group and lasts ``window`` seconds; past ``limit``
requests in it, the answer is 429 with ``retry-after`` = the time until the window closes.
Scaling ``window`` down (``RateLimit(10, window=1.0)`` is 600/min) runs the real figures faster.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from attrs import frozen


@frozen
class RateLimit:
    """At most ``limit`` requests per ``window`` seconds."""

    limit: int
    window: float = 60.0

    @property
    def per_minute(self) -> float:
        return self.limit * 60.0 / self.window


@frozen
class Verdict:
    """A limiter's answer: allowed, and the headers to send either way."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float = 0.0


class FixedWindow:
    """One endpoint group's counter."""

    def __init__(self, rate: RateLimit, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._opened: float | None = None
        self._hits = 0

    def hit(self) -> Verdict:
        now = self._clock()
        with self._lock:
            if self._opened is None or now - self._opened >= self.rate.window:
                self._opened, self._hits = now, 0
            if self._hits >= self.rate.limit:
                wait = self._opened + self.rate.window - now
                return Verdict(False, self.rate.limit, 0, wait)
            self._hits += 1
            return Verdict(True, self.rate.limit, self.rate.limit - self._hits)


def seconds_header(seconds: float, window: float) -> str:
    """``retry-after`` text: whole seconds rounded up (as the API sends them) for windows of a
    second or more; milliseconds for the sub-second windows that keep tests fast."""
    if window >= 1.0:
        return str(max(1, math.ceil(seconds)))
    return f"{max(seconds, 0.001):.3f}"


class DailyQuota:
    """Requests left today; resets at 00:00 UTC (or by :meth:`reset`). ``quota`` None: no daily
    quota applies, reported as ``-1`` as in every response MailerSend recorded."""

    def __init__(
        self, quota: int | None, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    ) -> None:
        self.quota = quota
        self._now = now
        self._lock = threading.Lock()
        self._used = 0
        self._day = now().date()

    def _roll(self) -> None:
        today = self._now().date()
        if today != self._day:
            self._day, self._used = today, 0

    def take(self) -> bool:
        """Count one request; False (and nothing counted) when the quota is used up."""
        with self._lock:
            self._roll()
            if self.quota is not None and self._used >= self.quota:
                return False
            self._used += 1
            return True

    @property
    def remaining(self) -> int:
        """Requests left today; -1 when no quota applies."""
        with self._lock:
            self._roll()
            return -1 if self.quota is None else max(0, self.quota - self._used)

    def reset(self, used: int = 0) -> None:
        with self._lock:
            self._used = used

    def reset_at(self) -> datetime:
        tomorrow = self._now().date() + timedelta(days=1)
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=timezone.utc)

    def seconds_to_reset(self) -> float:
        return max(1.0, (self.reset_at() - self._now()).total_seconds())
