"""Sliding-window limits: at most N requests in any window of W seconds, for each (N, W).

ACS counts requests per minute and per hour. A token bucket cannot both allow the hour's
requests to come in bursts of a minute's worth and never exceed the hour's; a log of the
last N request times can, and lets a short campaign go out at the minute's pace.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

#: seconds added to every window: a request stamped here arrives at ACS a little later, and
#: the next one perhaps sooner, so a window measured here is stretched to cover the jitter
SLACK = 0.5


class SlidingWindows:
    """Thread-safe; :meth:`acquire` blocks until every window has room (or ``stop`` is set)."""

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        slack: float = SLACK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = [(count, window + slack) for count, window in limits]
        self._times: list[deque[float]] = [deque() for _ in limits]
        self._clock = clock
        self._lock = threading.Lock()

    def _wait_needed(self, now: float) -> float:
        wait = 0.0
        for (count, window), times in zip(self.limits, self._times, strict=True):
            while times and times[0] + window <= now:  # the same sum as the wait below
                times.popleft()
            if len(times) >= count:
                wait = max(wait, times[0] + window - now)
        return wait

    def acquire(self, stop: threading.Event) -> bool:
        """Take one request slot; False if ``stop`` was set while waiting."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    for times in self._times:
                        times.append(now)
                    return True
            if stop.wait(wait):
                return False
