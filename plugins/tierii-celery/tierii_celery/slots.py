"""Connection slots shared by every worker: a counting semaphore in Redis with leases, so that
all workers together hold at most ``TIERII_SMTP_CONNECTIONS`` connections to one server.

The holders are a sorted set (member: the holder's token, score: when its lease ends, on Redis's
clock). One Lua script drops the expired holders and adds the caller if fewer than the cap hold
a slot; another renews the leases of the tokens this process holds (a heartbeat thread, every
third of the lease); releasing removes the token. A worker killed while holding slots cannot
give them back: they expire at the end of their lease and the others take them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

PREFIX = "tierii:connections:"
#: the longest pause between two tries for a slot while all are held
MAX_POLL = 0.1

ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
return 1
"""

RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local renewed = 0
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i]) == 1 then
    renewed = renewed + 1
  end
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 60)
return renewed
"""


class RedisConnectionSlots:
    """At most ``cap`` holders of ``key`` at once across every process; a
    :class:`tierii_smtp.session.ConnectionSlots`. Thread-safe."""

    def __init__(
        self,
        client: Any,
        key: str,
        cap: int,
        lease: float,
        *,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.client = client
        self.key = key
        self.cap = cap
        self.lease = lease
        self._pause = pause
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:"
        self._heartbeat = threading.Thread(target=self._beat, name="tierii-slots-heartbeat", daemon=True)
        self._heartbeat.start()

    def try_acquire(self) -> str | None:
        """A slot now, or None when ``cap`` are held."""
        token = self._prefix + uuid.uuid4().hex
        with self._lock:  # held before Redis has it: the heartbeat never misses a new slot
            self._held.add(token)
        if int(self._acquire(keys=[self.key], args=[self.cap, self.lease, token])):
            return token
        with self._lock:
            self._held.discard(token)
        return None

    def acquire(self, stopping: Callable[[], bool]) -> str | None:
        """Wait for a slot (trying again every few tens of milliseconds); None once ``stopping()``."""
        pause = 0.005
        while not stopping() and not self._closed.is_set():
            token = self.try_acquire()
            if token is not None:
                return token
            self._pause(pause)
            pause = min(MAX_POLL, pause * 2)
        return None

    def release(self, token: object) -> None:
        with self._lock:
            self._held.discard(str(token))
        self.client.zrem(self.key, str(token))

    def holders(self) -> list[str]:
        """The tokens whose lease has not ended (every process's)."""
        seconds, micro = self.client.time()
        return [m.decode() for m in self.client.zrangebyscore(self.key, seconds + micro / 1e6, "+inf")]

    def renew(self) -> int:
        """Extend the lease of every slot this process holds; how many Redis still had."""
        with self._lock:
            held = sorted(self._held)
        if not held:
            return 0
        return int(self._renew(keys=[self.key], args=[self.lease, *held]))

    def _beat(self) -> None:
        while not self._closed.wait(self.lease / 3):
            try:
                self.renew()
            except Exception as exc:  # Redis away for a moment: the next beat tries again
                from tierii_core.logs import get_logger

                get_logger().warning("celery.slots_not_renewed", key=self.key, error=str(exc))

    def close(self) -> None:
        """Stop the heartbeat and give back what is still held."""
        self._closed.set()
        with self._lock:
            held, self._held = list(self._held), set()
        if held:
            self.client.zrem(self.key, *held)


def share_connections(client: Any, providers: Any, lease: float) -> list[RedisConnectionSlots]:
    """Fill the ``connection_slots`` seam of every provider that has one (before it opens)."""
    shared = []
    for provider in providers:
        if not hasattr(provider, "connection_slots") or getattr(provider, "max_connections", None) is None:
            continue
        key = f"{PREFIX}{provider.name}:{getattr(provider, 'connection_key', '')}"
        slots = RedisConnectionSlots(client, key, int(provider.max_connections), lease)
        provider.connection_slots = slots
        shared.append(slots)
    return shared
