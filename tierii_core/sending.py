"""The send itself, once the campaign is prepared: the provider chain opened, one
:class:`~tierii_core.delivery.Delivery` (retries, limits, fallback, the circuit breaker) behind
the sending window, and the batches pumped through the workers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from tierii_core.components import ComplianceRule, DeliveryProvider
from tierii_core.delivery import CircuitBreaker, Delivery, ProviderSlot
from tierii_core.errors import FatalProviderError
from tierii_core.journal import Journal
from tierii_core.logs import get_logger
from tierii_core.models import Outcome
from tierii_core.pump import Batch, pump
from tierii_core.ratelimit import TokenBucket
from tierii_core.sender_auth import equip_provider_chain
from tierii_core.settings import CoreSettings, SettingsReader

if TYPE_CHECKING:
    from tierii_core.scheduling import Timetable
    from tierii_core.tally import Tally

log = get_logger()

CIRCUIT_BREAKER_THRESHOLD = 50
#: how long transient failures in a row must last before the breaker opens (backoff rides out less)
BREAKER_MIN_SECONDS = 60.0


def provider_chain(
    providers: Sequence[DeliveryProvider], reader: SettingsReader, rules: list[ComplianceRule]
) -> list[ProviderSlot]:
    """The chain as it will send: each provider in its slot, the DKIM signer handed to those that
    sign and the rules' refusals of the chain raised (exit 2, :mod:`~tierii_core.sender_auth`),
    and the rules told whether every provider adds its own one-click unsubscribe header (as
    MailerSend does: it satisfies that rule). No providers (a preview, a dry run): no chain."""
    slots = [slot_for(p) for p in providers]
    if slots:
        equip_provider_chain([slot.provider for slot in slots], reader, rules)
    adds = bool(slots) and all(slot.provider.adds_list_unsubscribe for slot in slots)
    for rule in rules:
        rule.provider_adds_list_unsubscribe = adds
    return slots


def slot_for(provider: DeliveryProvider) -> ProviderSlot:
    """A provider of the chain, with its own request limit (``max_per_minute``) if it has one."""
    limit = getattr(provider, "max_per_minute", None)
    return ProviderSlot(provider, TokenBucket.for_requests(limit) if limit else None)


def batch_size(configured: int | None, slots: Sequence[ProviderSlot], bucket: TokenBucket | None) -> int:
    """Records per batch: ``TIERII_BATCH_SIZE``, cut to what every provider takes in one call
    and to the message rate's burst; 100 when nothing says."""
    sizes = [configured or 10**9]
    sizes += [slot.provider.max_batch for slot in slots]
    if bucket is not None:
        sizes.append(bucket.burst)
    size = min(sizes)
    return size if size < 10**9 else 100


def open_providers(slots: Sequence[ProviderSlot], resources: contextlib.ExitStack) -> str | None:
    """Open every provider of the chain; why the run cannot send at all, or None."""
    for slot in slots:
        try:
            resources.enter_context(slot.provider)
        except FatalProviderError as exc:
            slot.dead = str(exc)
            log.error("provider.failed", provider=slot.name, reason=str(exc))
    if all(slot.dead for slot in slots):
        return "; ".join(f"{s.name}: {s.dead}" for s in slots)
    return None


def send(
    batches: Iterable[Batch],
    *,
    campaign_id: str,
    slots: list[ProviderSlot],
    journal: Journal,
    core: CoreSettings,
    tally: Tally,
    messages_bucket: TokenBucket | None,
    stop: threading.Event,
    timetable: Timetable | None,
    finished: Callable[[Batch, Sequence[Outcome]], None],
) -> None:
    """Deliver every batch; record what was decided without a provider; ``finished`` for each."""
    breaker = CircuitBreaker(CIRCUIT_BREAKER_THRESHOLD, min_seconds=BREAKER_MIN_SECONDS)
    delivery = Delivery(
        slots,
        campaign=campaign_id,
        journal=journal,
        max_attempts=core.max_attempts,
        retry_delay=core.retry_delay,
        breaker=breaker,
        stop=stop,
        messages=messages_bucket,
    )
    try:
        pump(
            batches,
            delivery=timetable.windowed(delivery, stop) if timetable is not None else delivery,
            breaker=breaker,
            stop=stop,
            concurrency=core.concurrency,
            batch_delay=core.batch_delay,
            record_decided=lambda batch: journal.record(campaign_id, batch.decided),
            finished=finished,
        )
    finally:  # recipients another process claimed first (it sends them)
        tally.taken += delivery.taken
