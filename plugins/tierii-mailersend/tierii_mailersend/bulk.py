"""Waiting for an accepted bulk request: poll GET /v1/bulk-email/{id} with backoff until done.

MailerSend validates bulk emails after it has accepted the request, so which recipients were
sent is only known once the job is ``completed``. Polling is a GET: retrying it is harmless,
so it rides out 429s (waiting ``retry-after``), 5xx and lost answers by itself; polls count
against the 60/min limit of "other" endpoints, hence the doubling waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tierii_core.logs import get_logger
from tierii_mailersend.classify import describe, fatal_reason, retry_after
from tierii_mailersend.client import ApiClient, TransportError

MAX_WAIT = 30.0  # seconds between two polls at most

log = get_logger()


class BulkUnresolved(Exception):
    """The job's result could not be learned in time: its emails are in MailerSend's hands, fate
    unknown. ``fatal`` carries the reason when nothing else can be sent either (token revoked)."""

    def __init__(self, reason: str, fatal: str | None = None) -> None:
        super().__init__(reason)
        self.fatal = fatal


def wait_for_completion(
    client: ApiClient,
    bulk_email_id: str,
    *,
    first_wait: float,
    timeout: float,
    stopping: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> Mapping[str, Any]:
    """The ``data`` of the completed job; :class:`BulkUnresolved` when that cannot be had."""
    deadline = clock() + timeout
    wait = first_wait
    state = "not yet seen"
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise BulkUnresolved(f"bulk request {bulk_email_id} still {state} after {timeout:g} s")
        if stopping.wait(min(wait, remaining)):
            raise BulkUnresolved(f"stopped while waiting for bulk request {bulk_email_id} ({state})")
        try:
            reply = client.bulk_status(bulk_email_id)
        except TransportError as exc:
            state = f"unanswered ({exc})"
            wait = _next(wait, first_wait)
            continue
        if reply.ok:
            data = reply.body.get("data") if isinstance(reply.body, dict) else None
            if isinstance(data, Mapping) and data.get("state") == "completed":
                return data
            state = str(data.get("state")) if isinstance(data, Mapping) else "unreadable"
            wait = _next(wait, first_wait)
            continue
        fatal = fatal_reason(reply)
        if fatal is not None or reply.status == 404:
            raise BulkUnresolved(f"cannot read bulk request {bulk_email_id}: {describe(reply)}", fatal)
        state = f"unreadable ({describe(reply)})"
        wait = max(_next(wait, first_wait), retry_after(reply.headers) or 0.0)
        log.info("mailersend.poll_deferred", bulk_email_id=bulk_email_id, status=reply.status, wait=wait)


def _next(wait: float, first_wait: float) -> float:
    return min(wait * 2, max(MAX_WAIT, first_wait))
