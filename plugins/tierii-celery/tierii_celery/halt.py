"""A campaign's stop, shared through Redis: when a worker finds no provider left (its daily
quota used up, its credentials refused) the whole campaign stops, as one process does: the
worker writes the reason, the coordinator reads it within a second and stops (exit 3, safe to
re-run), and the workers skip the campaign's batches still queued (their recipients stay as the
journal has them: pending or not yet tried, never lost). A re-run of the campaign clears it."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

PREFIX = "tierii:halt:"
#: a stop nobody re-runs is forgotten after a day
KEEP_SECONDS = 86400


class Halts:
    def __init__(self, client: Any) -> None:
        self.client = client

    def halt(self, campaign: str, reason: str) -> None:
        """Stop ``campaign`` for every worker; the first reason wins."""
        self.client.set(PREFIX + campaign, reason, ex=KEEP_SECONDS, nx=True)

    def reason(self, campaign: str) -> str | None:
        """Why ``campaign`` was stopped, or None: also while Redis cannot be reached (restarting,
        say), so that the coordinator and the workers go on and ask again a moment later."""
        try:
            value = self.client.get(PREFIX + campaign)
        except (RedisConnectionError, RedisTimeoutError):
            return None
        return None if value is None else value.decode("utf-8", "replace")

    def clear(self, campaign: str) -> None:
        self.client.delete(PREFIX + campaign)
