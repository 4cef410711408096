"""One token bucket shared by every worker, in Redis: the user's ``--rate`` and each provider's
request limit hold across all workers together, not as a per-worker share.

A single Lua script (atomic in Redis) refills the bucket by the time elapsed, reserves ``n``
tokens and returns how long the caller must wait before using them. Reserving (the count may go
below zero) instead of refusing keeps callers in order and costs one round trip per call; a
caller only ever proceeds at the moment its tokens exist, so in any window of ``T`` seconds at
most ``burst + rate * T`` tokens are used, whatever the number of workers.

The time is Redis's own clock (``TIME``) unless the caller passes one (tests pass theirs):
workers on machines whose clocks disagree still share one timeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

RESERVE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local n = tonumber(ARGV[4])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
if n > capacity then n = capacity end
tokens = tokens - n
local wait = 0
if tokens < 0 then wait = -tokens / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate + wait) + 60)
return tostring(wait)
"""


class RedisTokenBucket:
    """The shape of :class:`tierii_core.ratelimit.TokenBucket` (``acquire``, ``burst``), kept in
    Redis under ``key``. ``clock``: seconds, for tests; None uses Redis's clock."""

    def __init__(
        self,
        client: Any,
        key: str,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float, threading.Event | None], bool] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.client = client
        self.key = key
        self.rate = rate
        self.capacity = max(float(burst), 1.0)
        self.clock = clock
        self._sleep = sleep or _wait
        self._script = client.register_script(RESERVE)

    @classmethod
    def for_messages(cls, client: Any, key: str, per_second: float) -> RedisTokenBucket:
        """As :meth:`TokenBucket.for_messages`: a fifth of a second's worth as the burst."""
        return cls(client, key, per_second, max(1, -(-per_second // 5)))

    @classmethod
    def for_requests(cls, client: Any, key: str, per_minute: float) -> RedisTokenBucket:
        """As :meth:`TokenBucket.for_requests`: one request at a time, evenly spaced."""
        return cls(client, key, per_minute / 60.0, 1)

    @property
    def burst(self) -> int:
        return int(self.capacity)

    def reserve(self, tokens: float = 1) -> float:
        """Take ``tokens`` (at most the capacity) now; the seconds to wait before using them."""
        now = "" if self.clock is None else repr(self.clock())
        wait = self._script(keys=[self.key], args=[repr(self.rate), repr(self.capacity), now, repr(tokens)])
        return float(wait)

    def acquire(self, tokens: float = 1, stop: threading.Event | None = None) -> bool:
        """Block until the tokens are ours; False if ``stop`` was set while waiting (the tokens
        stay spent: the limit errs on the safe side)."""
        wait = self.reserve(tokens)
        if wait <= 0:
            return True
        return self._sleep(wait, stop)


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    if stop is None:
        time.sleep(seconds)
        return True
    return not stop.wait(seconds)
