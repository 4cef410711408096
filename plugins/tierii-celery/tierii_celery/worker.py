"""What a worker does with one batch: build the campaign from the state store (once per
campaign per process), decide each contact, deliver through the shared limits, record.

The worker uses its own settings (its environment, its .env): the provider's credentials, the
state store's URL, the broker's. The campaign's templates and options come from the state
store (:mod:`tierii_celery.store`); the batch's contacts from the task. Observers' batch
finished fires here, on the worker that sent the batch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tierii_core.errors import ConfigurationError
from tierii_core.logs import get_logger
from tierii_core.models import Contact, Outcome, RunInfo, Status

log = get_logger()

_lock = threading.Lock()
_runtimes: dict[str, Runtime] = {}


def contact_payload(contact: Contact) -> dict[str, Any]:
    """A contact as a task carries it: its address, its fields, where it came from."""
    return {"email": contact.email, "fields": dict(contact.fields), "origin": contact.origin}


def run_batch(campaign: str, contacts: Sequence[dict[str, Any]]) -> None:
    runtime = _acquire(campaign)
    try:
        runtime.send([Contact(c["email"], c.get("fields") or {}, c.get("origin", "")) for c in contacts])
    except Exception:
        runtime.broken = True  # built again for the next batch (a provider that broke...)
        raise
    finally:
        _release(campaign, runtime)


def _acquire(campaign: str) -> Runtime:
    """The campaign's runtime in this process (built on first use, or again once broken)."""
    with _lock:
        runtime = _runtimes.get(campaign)
        if runtime is None or runtime.broken:
            runtime = _runtimes[campaign] = Runtime.build(campaign)
        runtime.users += 1
        return runtime


def _release(campaign: str, runtime: Runtime) -> None:
    """A broken runtime is closed when the last batch using it ends, never under another's feet."""
    with _lock:
        runtime.users -= 1
        done = runtime.broken and runtime.users == 0
        if done and _runtimes.get(campaign) is runtime:
            del _runtimes[campaign]
    if done:
        runtime.close()


def close_all() -> None:
    with _lock:
        runtimes = list(_runtimes.values())
        _runtimes.clear()
    for runtime in runtimes:
        runtime.close()


class Runtime:
    """One campaign in one worker process: composer, rules, providers (opened once), journal
    (with this process's lease), suppression list, and the delivery with the shared buckets.
    Thread-safe as the core's pieces are (a thread pool's tasks share it)."""

    def __init__(self) -> None:
        self.resources = contextlib.ExitStack()
        self.broken = False
        self.users = 0  # batches using it now (under the module's lock)
        self._suppress_lock = threading.Lock()
        self._flight_lock = threading.Lock()
        self._in_flight: set[str] = set()

    @classmethod
    def build(cls, campaign: str) -> Runtime:
        from tierii_celery.halt import Halts
        from tierii_celery.limits import shared_buckets
        from tierii_celery.quota import shared_slot
        from tierii_celery.settings import CelerySettings
        from tierii_celery.slots import share_connections
        from tierii_celery.store import CampaignSpecs
        from tierii_core.assembly import Assembly
        from tierii_core.cli.context import current_plugin_manager, settings_reader
        from tierii_core.decisions import Decider
        from tierii_core.delivery import CircuitBreaker, Delivery
        from tierii_core.journal import StateJournal
        from tierii_core.options import SendOptions
        from tierii_core.plugins import make_plugin_manager
        from tierii_core.sending import BREAKER_MIN_SECONDS, CIRCUIT_BREAKER_THRESHOLD, provider_chain
        from tierii_core.settings import CoreSettings
        from tierii_core.state import check_state, state_location
        from tierii_core.suppression import SuppressionList

        self = cls()
        try:
            where = check_state(state_location(settings_reader().load(CoreSettings)))
            specs = CampaignSpecs(where)
            try:
                spec = specs.load(campaign)
            finally:
                specs.close()
            if spec is None:
                raise ConfigurationError(f"campaign {campaign} is not in this worker's state store")
            pm = current_plugin_manager() or make_plugin_manager()
            reader = settings_reader(spec.settings)
            core = reader.load(CoreSettings)
            folder = Path(tempfile.mkdtemp(prefix="tierii-celery-"))
            self.resources.callback(_remove_tree, folder)
            template = folder / spec.template_name
            template.write_text(spec.template_text, encoding="utf-8")
            html = None
            if spec.html_name is not None and spec.html_text is not None:
                html = folder / spec.html_name
                html.write_text(spec.html_text, encoding="utf-8")
            options = SendOptions(
                spec.source,
                template,
                html,
                spec.subject,
                spec.sender,
                campaign,
                retry_failed=spec.retry_failed,
                retry_unknown=spec.retry_unknown,
            )
            assembly = Assembly(pm, reader, core)
            rules = assembly.rules()
            self.decider = Decider(assembly.composer(options), rules, options)
            buckets = shared_buckets(reader)
            providers = assembly.providers()
            lease = reader.load(CelerySettings, "celery").connection_lease
            for shared in share_connections(buckets.client, providers, lease):
                self.resources.callback(shared.close)  # after the providers closed their connections
            self.halts = Halts(buckets.client)
            # the core's chain (DKIM signer, the rules' refusals), each slot's requests limit and
            # daily quota shared
            slots = [
                shared_slot(buckets.client, s.provider, buckets.requests(s.provider))
                for s in provider_chain(providers, reader, rules)
            ]
            for provider in providers:
                self.resources.enter_context(provider)
            self.journal = StateJournal(
                where,
                retry_failed=spec.retry_failed,
                retry_unknown=spec.retry_unknown,
                lease=core.state_lease,
            )
            self.resources.callback(self.journal.close)
            self.suppressions = SuppressionList(where, read_only=True)
            self.resources.callback(self.suppressions.close)
            self.stop = threading.Event()
            messages = buckets.messages(campaign, core.rate_limit)
            self.breaker = CircuitBreaker(CIRCUIT_BREAKER_THRESHOLD, min_seconds=BREAKER_MIN_SECONDS)
            self.delivery = Delivery(
                slots,
                campaign=campaign,
                journal=self.journal,
                max_attempts=core.max_attempts,
                retry_delay=core.retry_delay,
                breaker=self.breaker,
                stop=self.stop,
                messages=messages,
            )
            # a provider call takes at most the bucket's burst: it is never charged less than it sends
            sizes = [core.batch_size or 100] + [p.max_batch for p in providers]
            self.batch_size = max(1, min(sizes + ([messages.burst] if messages is not None else [])))
            self.pm = pm
            self.campaign = campaign
            self.run = RunInfo(
                campaign,
                spec.source,
                spec.template_name,
                tuple(slot.name for slot in slots),
                False,
                datetime.now(timezone.utc),
                spec.total,
            )
        except BaseException:
            self.resources.close()
            raise
        log.info("worker.campaign_ready", campaign=campaign, providers=",".join(self.run.providers))
        return self

    def send(self, contacts: list[Contact]) -> None:
        from tierii_core.delivery import BatchStopped
        from tierii_core.journal import key_of
        from tierii_core.observe import notify
        from tierii_core.tally import log_outcome

        halted = self.halts.reason(self.campaign)
        if halted is not None:  # stopped by another batch: left as the journal has them
            log.info("batch.skipped", campaign=self.campaign, count=len(contacts), reason=halted)
            return
        keys = [key_of(c.email) for c in contacts]
        known = self.journal.entries(self.campaign, keys)
        with self._suppress_lock:
            suppressed = self.suppressions.suppressed([c.email for c in contacts])
        messages, decided = [], []
        for contact, key in zip(contacts, keys, strict=True):
            entry = known.get(key)
            if entry is not None and (
                entry.status in (Status.SENT, Status.EXCLUDED)
                or (entry.status is Status.UNKNOWN and not self.journal.retry_unknown)
                or (entry.final_failure and not self.journal.retry_failed)
            ):
                continue  # done already (a task delivered twice), or reported unknown
            decision = self.decider.decide(contact, suppressed=contact.email in suppressed)
            if decision.message is not None:
                messages.append(decision.message)
            else:
                decided.append((key, decision.origin, decision.outcome))
        if decided:
            self.journal.record(self.campaign, decided)
        outcomes: list[Outcome] = []
        messages = self._take(messages)
        try:
            for start in range(0, len(messages), self.batch_size):
                try:
                    outcomes += self.delivery.deliver(messages[start : start + self.batch_size])
                except BatchStopped as exc:
                    outcomes += exc.outcomes
                    self.broken = True
                    log.error("worker.batch_stopped", campaign=self.campaign, reason=str(exc.reason))
                    if all(slot.dead for slot in self.delivery.slots):  # no provider left: all stop
                        self.halts.halt(self.campaign, str(exc.reason))
                    break
        finally:
            self._let_go(messages)
        if self.breaker.is_open or any(slot.dead for slot in self.delivery.slots):
            self.broken = True
        origins = {m.contact.email: m.contact.origin for m in messages}
        for outcome in outcomes:
            log_outcome(outcome, origins.get(outcome.email, ""))
        notify(self.pm, "tierii_batch_finished", run=self.run, outcomes=[o for _, _, o in decided] + outcomes)

    def _take(self, messages: list[Any]) -> list[Any]:
        """The messages no other batch of this process is sending now. The journal's claim
        keeps processes apart, and lets a process take again what it already holds (a claim
        repeated after a lost connection): two copies of one task (redelivered, re-queued) in
        this process's threads at once must be kept apart here."""
        with self._flight_lock:
            mine = [m for m in messages if m.contact.email not in self._in_flight]
            self._in_flight.update(m.contact.email for m in mine)
        if len(mine) < len(messages):
            log.info("batch.taken", count=len(messages) - len(mine), reason="in flight in another batch here")
        return mine

    def _let_go(self, messages: list[Any]) -> None:
        with self._flight_lock:
            self._in_flight.difference_update(m.contact.email for m in messages)

    def close(self) -> None:
        stop = getattr(self, "stop", None)
        if stop is not None:
            stop.set()
        self.resources.close()


def _remove_tree(folder: Path) -> None:
    for child in folder.iterdir():
        with contextlib.suppress(OSError):
            child.unlink()
    with contextlib.suppress(OSError):
        os.rmdir(folder)
