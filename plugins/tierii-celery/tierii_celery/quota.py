"""A provider's daily quota shared by every worker: one counter in Redis per provider account
per UTC day, taken by one atomic Lua script (take ``n`` if ``used + n <= quota``, else refuse),
so that N workers together never make more calls in a day than the quota allows.

The day is the UTC day of Redis's own clock (``TIME``): workers whose clocks disagree still
agree on when the quota resets. :data:`day_source` may name it instead (tests move the day).

A slot whose quota is used up is out of the run with the core's own reason; what its batch
was sending stays ``pending`` (safe to re-run after the reset), as in one process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tierii_core.delivery import ProviderSlot

PREFIX = "tierii:quota:"
#: a day's counter outlives its day by this much (then Redis forgets it)
KEEP_SECONDS = 2 * 86400

TAKE = """
local quota = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local day = ARGV[3]
if day == '' then
  local t = redis.call('TIME')
  day = tostring(math.floor(tonumber(t[1]) / 86400))
end
local key = KEYS[1] .. ':' .. day
local used = tonumber(redis.call('GET', key) or '0')
if used + n > quota then
  return {0, used}
end
used = redis.call('INCRBY', key, n)
redis.call('EXPIRE', key, tonumber(ARGV[4]))
return {1, used}
"""

#: the day's name for the counter; None: Redis's clock decides (days since the epoch, UTC)
day_source: Callable[[], str] | None = None


class SharedDailyQuota:
    """``quota`` calls a day on the counter ``key`` (one per provider account)."""

    def __init__(self, client: Any, key: str, quota: int) -> None:
        if quota < 0:
            raise ValueError("quota must be >= 0")
        self.client = client
        self.key = key
        self.quota = quota
        self._script = client.register_script(TAKE)

    def take(self, n: int = 1) -> bool:
        """Count ``n`` calls against today's quota; False (nothing counted) when they would pass it."""
        day = "" if day_source is None else day_source()
        taken, _used = self._script(keys=[self.key], args=[self.quota, n, day, KEEP_SECONDS])
        return bool(int(taken))

    def used(self) -> int:
        day = "" if day_source is None else day_source()
        if not day:
            seconds, _micro = self.client.time()
            day = str(int(seconds) // 86400)
        return int(self.client.get(f"{self.key}:{day}") or 0)


class SharedQuotaSlot(ProviderSlot):
    """The core's provider slot, its daily quota (``max_per_day``, read at each call: a provider
    may learn it in ``open()``) counted in Redis for all workers together instead of in this
    process. Out of the run with the core's reason once it is used up."""

    client: Any = None

    def take_call(self) -> bool:
        limit = getattr(self.provider, "max_per_day", None)
        if limit is None or self.client is None:
            return super().take_call()
        quota = SharedDailyQuota(self.client, quota_key(self.provider), int(limit))
        if quota.take(1):
            with self._lock:
                self.calls += 1
            return True
        self.dead = f"its daily quota of {limit} requests is used up"
        return False


def quota_key(provider: Any) -> str:
    """One counter per provider account: the account the provider names (``account``), else a
    digest of its credential (workers with the same API token share one quota; two dispensaries'
    tokens do not). The digest is of a long random token: it names the account, it reveals nothing."""
    account = getattr(provider, "account", None)
    if not account:
        credentials = getattr(provider, "credentials", None)
        secret = getattr(credentials, "secret", None)
        if secret is not None and secret.reveal():
            account = hashlib.sha256(secret.reveal().encode()).hexdigest()[:16]
    return f"{PREFIX}{provider.name}" + (f":{account}" if account else "")


def shared_slot(client: Any, provider: Any, requests: Any) -> ProviderSlot:
    """The slot for ``provider``, its daily quota (if it has one) shared through ``client``."""
    slot = SharedQuotaSlot(provider, requests)
    slot.client = client
    return slot
