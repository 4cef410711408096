"""Token buckets: the user's ``--rate`` (messages) and each provider's request limit.

A bucket of capacity ``burst`` refilled at ``rate`` per second lets through at most
``burst + rate * T`` tokens in any window of ``T`` seconds. That is the guarantee the tests
check and the documentation states.
"""

from __future__ import annotations

import math
import re
import threading
import time

from tierii_core.errors import ConfigurationError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.I)
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(text: str, where: str = "--rate") -> float:
    """``50/s``, ``600/min``, ``1000/hour`` -> per second; a clear error otherwise."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigurationError(f"{where}={text!r}: expected a positive rate such as 50/s or 600/min")
    return float(match.group(1)) / _UNITS[match.group(2).lower()]


class TokenBucket:
    """Thread-safe; :meth:`acquire` blocks until the tokens are there (or ``stop`` is set)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = max(burst, 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def for_messages(cls, per_second: float) -> TokenBucket:
        """A fifth of a second's worth as the burst: batches are cut to that size."""
        return cls(per_second, max(1, math.ceil(per_second / 5)))

    @classmethod
    def for_requests(cls, per_minute: float) -> TokenBucket:
        """One request at a time, evenly spaced: never more than the limit in any minute."""
        return cls(per_minute / 60.0, 1)

    @property
    def burst(self) -> int:
        return int(self.capacity)

    def acquire(self, tokens: float = 1, stop: threading.Event | None = None) -> bool:
        """Take ``tokens`` (at most the capacity); False if ``stop`` was set while waiting."""
        tokens = min(tokens, self.capacity)
        while True:
            with self._lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= tokens:
                    self.tokens -= tokens
                    return True
                wait = (tokens - self.tokens) / self.rate
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)
