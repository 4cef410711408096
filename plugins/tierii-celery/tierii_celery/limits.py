"""The limits every worker shares, as token buckets in the broker's Redis: the campaign's
``--rate`` (one bucket per campaign) and each provider's request limit (one per provider: an
account's limit, whatever the campaign)."""

from __future__ import annotations

from typing import Any

from tierii_celery.bucket import RedisTokenBucket
from tierii_celery.settings import CelerySettings
from tierii_core.ratelimit import parse_rate

PREFIX = "tierii:limit:"


class SharedBuckets:
    def __init__(self, client: Any) -> None:
        self.client = client

    def messages(self, campaign: str, rate: str | None) -> RedisTokenBucket | None:
        if not rate:
            return None
        per_second = parse_rate(rate, "TIERII_RATE_LIMIT")
        return RedisTokenBucket.for_messages(self.client, f"{PREFIX}rate:{campaign}", per_second)

    def requests(self, provider: Any) -> RedisTokenBucket | None:
        limit = getattr(provider, "max_per_minute", None)
        if not limit:
            return None
        return RedisTokenBucket.for_requests(self.client, f"{PREFIX}provider:{provider.name}", limit)


def shared_buckets(reader: Any) -> SharedBuckets:
    import redis

    from tierii_celery.app import broker_url

    return SharedBuckets(redis.Redis.from_url(broker_url(reader.load(CelerySettings, "celery"))))
