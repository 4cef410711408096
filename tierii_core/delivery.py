"""Delivering one batch: rate limits, journal, retries with backoff, and the provider chain.

For every provider call: wait for the rate limits, mark the batch ``sending`` in the journal,
call the provider, record the outcomes. Transient failures are retried with exponential
backoff and jitter (at least the provider's Retry-After); when they run out, or the provider
fails fatally, the messages the provider definitely did not accept move to the next provider
of the chain. A message whose fate is unknown never moves and is never resent blindly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence

import attrs
from attrs import define

from tierii_core.components import DeliveryProvider
from tierii_core.errors import FatalProviderError, RunStopped
from tierii_core.journal import Journal, keeps_message_ids, key_of
from tierii_core.logs import get_logger
from tierii_core.models import Message, Outcome, Status
from tierii_core.ratelimit import TokenBucket

log = get_logger()


def backoff(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Exponential backoff with equal jitter: half of ``min(cap, base * 2**(attempt-1))`` for
    sure, the other half at random. With the defaults (8 attempts, 1 s) a batch rides out an
    outage of 45 to 90 seconds before its recipients are left for the next run."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


@define
class ProviderSlot:
    """One provider of the chain, its request limits, and why it is out of the run (if it is)."""

    provider: DeliveryProvider
    requests: TokenBucket | None = None
    dead: str | None = None
    calls: int = 0
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    @property
    def name(self) -> str:
        return self.provider.name

    def take_call(self) -> bool:
        """Count one call against the daily quota; False (and the slot out) once it is used up."""
        limit = getattr(self.provider, "max_per_day", None)
        with self._lock:
            if limit is not None and self.calls >= limit:
                self.dead = f"its daily quota of {limit} requests is used up"
                return False
            self.calls += 1
            return True


class CircuitBreaker:
    """Opens after ``threshold`` transient failures in a row, over at least ``min_calls``
    provider calls and ``min_seconds``: the service is down, stop.

    Counting calls too keeps one answer from opening it: a single 429 to a bulk request of
    500 messages is 500 transient outcomes, but one event. Counting time lets the backoff ride
    out a short outage (a relay restarting) instead of stopping the run for it; a server that
    stops answering costs a timeout per call, so it still opens within a few calls. A call
    that delivered anything ends the streak: scattered drops never open it.
    """

    def __init__(
        self,
        threshold: int,
        min_calls: int = 3,
        min_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.min_calls = min_calls
        self.min_seconds = min_seconds
        self.clock = clock
        self.in_a_row = 0
        self.calls_in_a_row = 0
        self.since: float | None = None
        self.last_reason: str | None = None
        self._lock = threading.Lock()

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """The outcomes of one provider call."""
        with self._lock:
            if any(o.status is Status.SENT for o in outcomes):
                self.in_a_row = self.calls_in_a_row = 0
                self.since = None
            transient = [o for o in outcomes if o.is_transient]
            if transient:
                if self.since is None:
                    self.since = self.clock()
                self.in_a_row += len(transient)
                self.calls_in_a_row += 1
                self.last_reason = transient[-1].reason

    @property
    def is_open(self) -> bool:
        return (
            self.in_a_row >= self.threshold
            and self.calls_in_a_row >= self.min_calls
            and self.since is not None
            and self.clock() - self.since >= self.min_seconds
        )

    def check(self) -> None:
        if self.is_open:
            raise RunStopped(
                f"circuit breaker open: {self.in_a_row} transient failures in a row "
                f"(last: {self.last_reason}); re-run the same command when the provider is back"
            )


class Delivery:
    """Delivers batches through the provider chain; thread-safe (workers share it)."""

    def __init__(
        self,
        slots: list[ProviderSlot],
        *,
        campaign: str,
        journal: Journal,
        max_attempts: int,
        retry_delay: float,
        breaker: CircuitBreaker,
        stop: threading.Event,
        messages: TokenBucket | None = None,
    ) -> None:
        self.slots = slots
        self.campaign = campaign
        self.journal = journal
        self._keeps_message_ids = keeps_message_ids(journal)
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.breaker = breaker
        self.stop = stop
        self.messages = messages
        #: recipients another process claimed first (it sends them): skipped by this run
        self.taken = 0
        self._taken_lock = threading.Lock()

    def deliver(self, batch: Sequence[Message]) -> list[Outcome]:
        """One final (or, when the run stops, pending) outcome per message of the batch, but
        none for a recipient another process claimed first (counted in :attr:`taken`)."""
        if self.stop.is_set() or self.breaker.is_open:  # queued before the run began to stop
            return [
                Outcome(m.contact.email, Status.PENDING, reason="not sent: the run stopped") for m in batch
            ]
        final: list[Outcome] = []
        remaining = list(batch)
        last_failures: dict[str, Outcome] = {}
        for index, slot in enumerate(self.slots):
            if not remaining or self.stop.is_set():
                break
            if slot.dead:
                continue
            is_last = not any(s.dead is None for s in self.slots[index + 1 :])
            done, remaining, last_failures = self._through(slot, remaining, is_last)
            final += done
        if remaining:
            # every provider is out (fatal) or the run is stopping: nothing of these was accepted
            reason = "; ".join(f"{s.name}: {s.dead}" for s in self.slots if s.dead) or "run stopped"
            pending = [
                attrs.evolve(last_failures[m.contact.email], status=Status.PENDING)
                if m.contact.email in last_failures
                else Outcome(m.contact.email, Status.PENDING, reason=reason)
                for m in remaining
            ]
            self._record(remaining, pending)
            final += pending
            if all(s.dead for s in self.slots):
                raise BatchStopped(final, RunStopped(f"no provider left: {reason}"))
        return final

    def _through(
        self, slot: ProviderSlot, messages: list[Message], is_last: bool
    ) -> tuple[list[Outcome], list[Message], dict[str, Outcome]]:
        """Try one provider, with retries: (final outcomes, messages to move on, their failures)."""
        final: list[Outcome] = []
        pending = messages
        for attempt in range(1, self.max_attempts + 1):
            if not self._wait_for_limits(slot, len(pending)) or not slot.take_call():
                return final, pending, {}
            pending = self._claim(pending)
            if not pending:
                return final, [], {}
            try:
                outcomes = _complete(slot.name, pending, slot.provider.send(pending))
            except FatalProviderError as exc:
                slot.dead = str(exc)
                log.error("provider.failed", provider=slot.name, reason=str(exc))
                self._record(
                    pending,
                    [Outcome(m.contact.email, Status.PENDING, slot.name, reason=str(exc)) for m in pending],
                )
                return final, pending, {}
            except Exception as exc:  # a bug in the provider: what it handed over is unknown
                reason = (
                    f"provider {slot.name} failed unexpectedly ({type(exc).__name__}: {exc}); the messages "
                    "it was sending may or may not have left"
                )
                log.error("provider.crashed", provider=slot.name, error=type(exc).__name__, reason=str(exc))
                unknown = [
                    Outcome(m.contact.email, Status.UNKNOWN, slot.name, reason=reason) for m in pending
                ]
                self._record(pending, unknown)
                self.stop.set()  # hand it nothing more
                raise BatchStopped(final + unknown, RunStopped(reason)) from None
            self.breaker.record(outcomes)
            by_email = {m.contact.email: m for m in pending}
            retry = [o for o in outcomes if o.is_transient]
            settled = [o for o in outcomes if not o.is_transient]
            if retry and (attempt == self.max_attempts):
                exhausted = [attrs.evolve(o, reason=f"{o.reason} (after {attempt} attempts)") for o in retry]
                if is_last:
                    settled += exhausted
                    retry = []
                else:
                    moved = [by_email[o.email] for o in exhausted]
                    self._record(moved, [attrs.evolve(o, status=Status.PENDING) for o in exhausted])
                    self._record([by_email[o.email] for o in settled], settled)
                    log.warning("batch.falling_back", provider=slot.name, count=len(moved))
                    return final + settled, moved, {o.email: o for o in exhausted}
            waiting = [attrs.evolve(o, status=Status.PENDING) for o in retry]
            self._record([by_email[o.email] for o in settled + retry], settled + waiting)
            final += settled
            if not retry:
                return final, [], {}
            pending = [by_email[o.email] for o in retry]
            delay = max(max(o.retry_after or 0.0 for o in retry), backoff(attempt, self.retry_delay))
            log.info(
                "batch.retrying",
                provider=slot.name,
                count=len(pending),
                attempt=attempt,
                wait=round(delay, 3),
            )
            if self.stop.wait(delay):
                return final, pending, {o.email: o for o in waiting}
        return final, [], {}

    def _wait_for_limits(self, slot: ProviderSlot, count: int) -> bool:
        if self.messages is not None and not self.messages.acquire(count, self.stop):
            return False
        return slot.requests is None or slot.requests.acquire(1, self.stop)

    def _claim(self, messages: Sequence[Message]) -> list[Message]:
        """Claim the messages' recipients; those this process got. A recipient another process
        sending the same campaign holds (or has sent) is its: not handed over, not counted here."""
        items = [(_key(m), m.contact.origin) for m in messages]
        if self._keeps_message_ids:  # for matching bounces and complaints to their campaign
            claimed = self.journal.claim(
                self.campaign, items, message_ids={_key(m): m.message_id for m in messages}
            )
        else:
            claimed = self.journal.claim(self.campaign, items)
        if claimed is None:  # a journal from before claims returned anything: all of them
            return list(messages)
        mine = [m for m in messages if _key(m) in claimed]
        if len(mine) < len(messages):
            with self._taken_lock:
                self.taken += len(messages) - len(mine)
            log.info("batch.taken", count=len(messages) - len(mine), reason="claimed by another process")
        return mine

    def _record(self, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> None:
        origins = {m.contact.email: m.contact.origin for m in messages}
        self.journal.record(self.campaign, [(key_of(o.email), origins.get(o.email, ""), o) for o in outcomes])


class BatchStopped(Exception):
    """Carries the outcomes recorded so far out of a batch whose run must stop."""

    def __init__(self, outcomes: list[Outcome], reason: RunStopped) -> None:
        super().__init__(str(reason))
        self.outcomes = outcomes
        self.reason = reason


def _key(message: Message) -> str:
    return key_of(message.contact.email)


def _complete(provider: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Exactly one outcome per message: a message the provider said nothing about is unknown."""
    by_email = {o.email: o for o in outcomes}
    return [
        by_email.get(m.contact.email)
        or Outcome.unknown(m, provider, "the provider returned no outcome for this message")
        for m in messages
    ]
