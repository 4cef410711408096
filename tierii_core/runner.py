"""A campaign's run: assemble -> check the opening messages -> stream -> decide each record ->
deliver in batches -> record -> notify.

Everything that can be wrong with the configuration is found in :meth:`Campaign.prepare`,
before the first message leaves. After that, a recipient's problem is an :class:`Outcome`
and the run goes on; only a stop (every provider failed fatally, the circuit breaker opened,
Ctrl-C or SIGTERM, the journal cannot be written) ends it early, with exit 3, safe to re-run.

The pieces: :mod:`~tierii_core.assembly` builds the components, :mod:`~tierii_core.decisions`
decides each record, :mod:`~tierii_core.delivery` delivers one batch, :mod:`~tierii_core.pump`
keeps the workers busy, :mod:`~tierii_core.tally` counts.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import attrs

from tierii_core.assembly import Assembly
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.contacts import contacts_from
from tierii_core.decisions import Decider, Decision
from tierii_core.delivery import CircuitBreaker, Delivery, ProviderSlot
from tierii_core.errors import ConfigurationError, FatalProviderError, RunStopped
from tierii_core.journal import Journal, SqliteJournal, check_state_dir, key_of
from tierii_core.logs import get_logger
from tierii_core.models import Contact, Message, Outcome, Rejected, RunInfo, RunSummary, SourceRecord, Status
from tierii_core.observe import notify
from tierii_core.options import SendOptions, campaign_id, legacy_campaign_id
from tierii_core.plugins import PluginManager
from tierii_core.pump import Batch, pump, stop_on_signals
from tierii_core.ratelimit import TokenBucket
from tierii_core.redact import mask_credentials
from tierii_core.sender_auth import prepare_providers
from tierii_core.settings import CoreSettings, SettingsReader
from tierii_core.suppression import SuppressionList
from tierii_core.tally import Tally, log_outcome, summary_fields

if TYPE_CHECKING:
    from tierii_core.campaign_store import Identity
    from tierii_core.schedule import Clock, Window
    from tierii_core.segments import Segment

__all__ = ["Campaign", "SendOptions", "campaign_id", "legacy_campaign_id"]

log = get_logger()

CIRCUIT_BREAKER_THRESHOLD = 50
#: how long transient failures in a row must last before the breaker opens (backoff rides out less)
BREAKER_MIN_SECONDS = 60.0
#: seconds after the first Ctrl-C before providers still sending are interrupted
INTERRUPT_AFTER = 3.0
#: records the opening check may read to find a message to build (kept, then sent in order)
OPENING_LOOK_AT = 50


class Campaign:
    """One run of a campaign: prepared once, then :meth:`run` (or :meth:`preview`)."""

    def __init__(
        self,
        pm: PluginManager,
        reader: SettingsReader,
        options: SendOptions,
        core: CoreSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        from tierii_core.schedule import SystemClock

        self.clock: Clock = clock or SystemClock()
        self._window_lock = threading.Lock()
        self.pm = pm
        self.reader = reader
        self.options = options
        self.core = core or reader.load(CoreSettings)
        self.assembly = Assembly(pm, reader, self.core)
        self.journal: Journal | None = None
        self.slots: list[ProviderSlot] = []

    # -- preparation: every configuration error surfaces here -------------------------------

    def prepare(self, *, need_provider: bool = True) -> None:
        self.source: ContactSource = self.assembly.source(self.options.contacts)
        self.composer = self.assembly.composer(self.options)
        self.rules = self.assembly.rules()
        self.decider = Decider(self.composer, self.rules, self.options)
        self.messages_bucket: TokenBucket | None = self.assembly.message_bucket()
        if need_provider:
            self.slots = [_slot(p) for p in self.assembly.providers()]
            # the DKIM signer goes to the providers; rules may refuse the chain (sender_auth.py)
            prepare_providers([slot.provider for slot in self.slots], self.reader, self.rules)
        # a provider that adds its own one-click header (MailerSend's) satisfies that rule
        adds = bool(self.slots) and all(slot.provider.adds_list_unsubscribe for slot in self.slots)
        for rule in self.rules:
            rule.provider_adds_list_unsubscribe = adds
        self.provider_names = tuple(slot.name for slot in self.slots)
        self.segment = self._segment()
        # one pass over the source: the records the opening check reads are kept and sent first
        stream: Iterator[SourceRecord | Contact | Rejected] = iter(self.source)
        if self.segment is not None:  # before de-duplication: a repeat outside the segment is no repeat
            stream = self.segment.filter(stream, self.options.contacts)
        self._stream: Iterator[Contact | Rejected] = contacts_from(stream)
        self._opening = list(itertools.islice(self._stream, OPENING_LOOK_AT))
        self.decider.check_opening(self._opening)
        if not self.options.dry_run and need_provider and not self.options.proof:
            self.journal = SqliteJournal(check_state_dir(self.core.state_dir))
        elif (self.core.state_dir / "journal.sqlite3").exists():
            self.journal = SqliteJournal(self.core.state_dir, read_only=True)
        # after the journal, which creates or upgrades the state database: the list's tables exist
        self.suppressions = SuppressionList(self.core.state_dir, read_only=True)
        self.campaign = self._campaign_name()
        if self.options.proof:
            self._record_identity()
        elif need_provider and not self.options.dry_run:
            self._check_approval()

    def _segment(self) -> Segment | None:
        """The ``--where`` segment, handed to the source to narrow what it reads where it can."""
        if not self.options.where:
            return None
        from tierii_core.segments import Segment

        segment = Segment.parse(self.options.where)
        self.source.narrow(segment)
        return segment

    @property
    def not_in_segment(self) -> int:
        """Contacts left out by ``--where`` so far: by the source and by the core."""
        if self.segment is None:
            return 0
        return self.segment.left_out + self.source.left_out

    def _campaign_name(self) -> str:
        name = campaign_id(self.options)
        if self.options.campaign or self.journal is None:
            return name
        known = set(self.journal.campaigns())
        legacy = legacy_campaign_id(self.options, self.provider_names)
        if name not in known and legacy in known:
            log.info("campaign.resumed_by_old_name", campaign=legacy)
            return legacy
        return name

    def provider(self, name: str) -> DeliveryProvider:
        """The provider called ``name`` (or the ``auto`` choice), with its settings and credentials."""
        return self.assembly.provider(name)

    @property
    def batch_size(self) -> int:
        sizes = [self.core.batch_size or 10**9]
        sizes += [slot.provider.max_batch for slot in self.slots]
        if self.messages_bucket is not None:
            sizes.append(self.messages_bucket.burst)
        size = min(sizes)
        return size if size < 10**9 else 100

    # -- the stream ---------------------------------------------------------------------------

    def _records(self) -> Iterator[Contact | Rejected]:
        """The source's records, read once: the opening check's first, then the rest."""
        opening, self._opening = self._opening, []
        records: Iterator[Contact | Rejected] = itertools.chain(opening, self._stream)
        if self.options.limit is not None:
            records = itertools.islice(records, self.options.limit)
        return records

    def preview(self, count: int) -> Iterator[Decision]:
        """The first ``count`` records, rendered or with their outcome decided."""
        for record in itertools.islice(self._records(), count):
            email = "" if isinstance(record, Rejected) else record.email
            yield self.decider.decide(
                record, suppressed=bool(email and self.suppressions.suppressed([email]))
            )

    def batches(self) -> Iterator[Batch]:
        """Batches of records, minus those the journal says are done."""
        records = self._records()
        while batch := list(itertools.islice(records, self.batch_size)):
            keys = [_record_key(r) for r in batch]
            known = self.journal.entries(self.campaign, keys) if self.journal else {}
            suppressed = self.suppressions.suppressed([r.email for r in batch if isinstance(r, Contact)])
            messages, decided, skipped, unknown = [], [], 0, []
            for record, key in zip(batch, keys, strict=True):
                entry = known.get(key)
                if entry is not None and (
                    entry.status in (Status.SENT, Status.EXCLUDED)
                    or (entry.final_failure and not self.options.retry_failed)
                ):
                    skipped += 1
                    continue
                if entry is not None and entry.status is Status.UNKNOWN and not self.options.retry_unknown:
                    reason = "unknown since an earlier run (--retry-unknown resends)"
                    unknown.append(Outcome(record.email or "", Status.UNKNOWN, reason=reason))
                    continue
                decision = self.decider.decide(record, suppressed=record.email in suppressed)
                if decision.message is not None:
                    messages.append(decision.message)
                else:
                    decided.append((key, decision.origin, decision.outcome))
            yield Batch(messages, decided, skipped, unknown)

    # -- the run ------------------------------------------------------------------------------

    def run_info(self) -> RunInfo:
        return RunInfo(
            campaign=self.campaign,
            source=mask_credentials(self.options.contacts),  # stored in the journal, seen by observers
            template=str(self.options.template),
            providers=self.provider_names,
            dry_run=self.options.dry_run,
            started_at=datetime.now(timezone.utc),
            total=_capped(self.source.estimate_count(), self.options.limit),
            estimate=lambda: _capped(self.source.estimate_count(), self.options.limit),
        )

    def run(self) -> RunSummary:
        run = self.run_info()
        tally = Tally(run.campaign, dry_run=run.dry_run, rules=tuple(rule.name for rule in self.rules))
        stop = threading.Event()
        with contextlib.ExitStack() as resources:
            resources.enter_context(self._interrupting_when_stuck(stop))
            resources.enter_context(stop_on_signals(stop))
            resources.callback(self.suppressions.close)
            if self.journal is not None:
                resources.callback(self.journal.close)
            started = time.monotonic()
            try:
                if not self.options.dry_run:
                    # configuration problems found here (a provider's settings, a campaign another
                    # process is sending) stop the command with exit 2: nothing has been sent
                    self._open_journal(run)  # holds the campaign's lock through a scheduled wait
                    self._record_identity()
                    if not self._wait_for_start(stop):
                        tally.stopped = "cancelled before the scheduled start: nothing was sent"
                    else:
                        tally.stopped = self._open_providers(resources)
                notify(self.pm, "tierii_run_started", run=run)
                log.info(
                    "run.started",
                    campaign=run.campaign,
                    provider=",".join(run.providers),
                    dry_run=run.dry_run,
                )
                started = time.monotonic()
                if self.options.dry_run:
                    self._dry_run(run, tally)
                elif not tally.stopped:
                    self._send(run, tally, stop)
                if stop.is_set() and not tally.stopped:
                    tally.stopped = "interrupted: the batch in flight was finished and recorded"
            except (FatalProviderError, RunStopped) as exc:
                # a source that breaks mid-stream stops the run too: some messages may be out
                tally.stopped = str(exc)
            except ConfigurationError as exc:
                if not tally.counts:
                    raise  # found before anything was sent: a usage error (exit 2)
                tally.stopped = str(exc)
        if tally.stopped:
            log.error("run.stopped", campaign=run.campaign, reason=tally.stopped)
        tally.not_in_segment = self.not_in_segment
        summary = attrs.evolve(
            tally.summary(time.monotonic() - started),
            notes=tuple(note for rule in self.rules for note in rule.notes()),
            manual_checks={r.name: tuple(r.manual_checks()) for r in self.rules if r.manual_checks()},
        )
        notify(self.pm, "tierii_run_finished", run=run, summary=summary)
        log.info("run.finished", **summary_fields(summary))
        return summary

    def _open_journal(self, run: RunInfo) -> None:
        assert self.journal is not None
        stale = self.journal.open_campaign(run.campaign, run.source, run.template, run.providers)
        if stale:
            log.warning(
                "run.unknown_found",
                campaign=run.campaign,
                count=stale,
                reason="in flight when an earlier run stopped",
            )

    def identity(self) -> Identity:
        """What this campaign is sent with: the templates' content hashes, the rules and their
        versions, the providers, the segment (kept for ``tierii report`` and approvals)."""
        from tierii_core import __version__
        from tierii_core.campaign_store import Identity, content_hash, template_files

        templates = template_files([self.options.template, self.options.html])
        sources = getattr(self.pm, "sources", {})
        plugin_of = {info.name: info.plugin for info in self.assembly.registry.components("rule")}
        rules = []
        for rule in self.rules:
            source = sources.get(plugin_of.get(rule.name, ""))
            rules.append((rule.name, (source.version if source else __version__) or "unknown"))
        return Identity(
            self.campaign,
            content_hash(templates),
            templates,
            tuple(rules),
            self.provider_names,
            tuple(self.options.where),
            time.time(),
        )

    def _record_identity(self) -> None:
        if self.journal is not None and not isinstance(self.journal, SqliteJournal):
            return  # another journal store keeps its own record
        from tierii_core.campaign_store import CampaignStore

        store = CampaignStore(check_state_dir(self.core.state_dir))
        try:
            store.save_identity(self.identity())
        finally:
            store.close()

    def _check_approval(self) -> None:
        """TIERII_REQUIRE_APPROVAL: a marketing send of content nobody approved stops here (exit 2)."""
        if not self.core.require_approval or self.core.transactional:
            return
        from tierii_core.campaign_store import CampaignStore

        identity = self.identity()
        store = CampaignStore(check_state_dir(self.core.state_dir))
        try:
            approval = store.approval(self.campaign, identity.content_hash)
            earlier = store.identity(self.campaign)
        finally:
            store.close()
        if approval is not None:
            log.info("campaign.approved", campaign=self.campaign, by=approval.approved_by)
            return
        changed = ""
        if earlier is not None and earlier.content_hash != identity.content_hash:
            changed = " (the templates changed since the last proof or send: an approval binds the content)"
        raise ConfigurationError(
            f"campaign {self.campaign} is not approved{changed}; TIERII_REQUIRE_APPROVAL=true needs a "
            f"sign-off first: send a proof (--proof ADDRESS), then tierii approve {self.campaign} --by NAME"
        )

    def _open_providers(self, resources: contextlib.ExitStack) -> str | None:
        """Open every provider of the chain; why the run cannot send at all, or None."""
        for slot in self.slots:
            try:
                resources.enter_context(slot.provider)
            except FatalProviderError as exc:
                slot.dead = str(exc)
                log.error("provider.failed", provider=slot.name, reason=str(exc))
        if all(slot.dead for slot in self.slots):
            return "; ".join(f"{s.name}: {s.dead}" for s in self.slots)
        return None

    @contextlib.contextmanager
    def _interrupting_when_stuck(self, stop: threading.Event) -> Iterator[None]:
        """Ctrl-C lets the batches in flight finish; a provider still stuck on a silent server
        :data:`INTERRUPT_AFTER` seconds later is interrupted (in flight -> unknown), so the run
        ends promptly. A thread waits for that: a signal handler must not start one."""
        ended = threading.Event()

        def watch() -> None:
            stop.wait()
            if not ended.is_set() and not ended.wait(INTERRUPT_AFTER):
                self._interrupt_providers()

        watcher = threading.Thread(target=watch, name="tierii-interrupter", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            ended.set()
            stop.set()  # wakes the watcher, which sees the run has ended
            watcher.join()

    def _interrupt_providers(self) -> None:
        for slot in self.slots:
            log.warning("provider.interrupting", provider=slot.name, after=INTERRUPT_AFTER)
            try:
                slot.provider.interrupt()
            except Exception as exc:  # a provider's bug must not keep the run from ending
                log.error("provider.interrupt_failed", provider=slot.name, reason=str(exc))

    def _dry_run(self, run: RunInfo, tally: Tally) -> None:
        for batch in self.batches():
            outcomes = [Outcome(m.contact.email, Status.PENDING) for m in batch.messages]
            self._finish_batch(run, tally, batch, outcomes)

    def _send(self, run: RunInfo, tally: Tally, stop: threading.Event) -> None:
        journal = self.journal
        assert journal is not None
        breaker = CircuitBreaker(CIRCUIT_BREAKER_THRESHOLD, min_seconds=BREAKER_MIN_SECONDS)
        delivery = Delivery(
            self.slots,
            campaign=run.campaign,
            journal=journal,
            max_attempts=self.core.max_attempts,
            retry_delay=self.core.retry_delay,
            breaker=breaker,
            stop=stop,
            messages=self.messages_bucket,
        )
        if self._window is not None:
            delivery = _Windowed(delivery, lambda: self._in_window(stop))  # type: ignore[assignment]
        pump(
            self.batches(),
            delivery=delivery,
            breaker=breaker,
            stop=stop,
            concurrency=self.core.concurrency,
            batch_delay=self.core.batch_delay,
            record_decided=lambda batch: journal.record(run.campaign, batch.decided),
            finished=lambda batch, outcomes: self._finish_batch(run, tally, batch, outcomes),
        )

    # -- the schedule ---------------------------------------------------------------------------

    @property
    def _window(self) -> Window | None:
        schedule = self.options.schedule
        return schedule.window if schedule is not None else None

    def _wait_for_start(self, stop: threading.Event) -> bool:
        """``--at``: wait for the moment, showing the countdown; False if Ctrl-C cancelled it."""
        schedule = self.options.schedule
        if schedule is None or schedule.at is None:
            return True
        from tierii_core.schedule import wait_until

        log.info("schedule.waiting", campaign=self.campaign, at=schedule.at.isoformat())
        started = wait_until(schedule.at, self.clock, stop, _countdown_display("starts in"))
        _end_countdown_display()
        if started:
            self.decider.forget_built()
            log.info("schedule.started", campaign=self.campaign, at=schedule.at.isoformat())
        return started

    def _in_window(self, stop: threading.Event) -> bool:
        """``--window``: True at once inside it; outside, wait for it to open (False if stopped).
        Called by each worker before each provider call; one waits, the others queue behind it."""
        with self._window_lock:
            return self._wait_for_window(stop)

    def _wait_for_window(self, stop: threading.Event) -> bool:
        from tierii_core.schedule import wait_until

        window = self._window
        assert window is not None
        now = self.clock.now()
        if window.contains(now):
            return True
        opens = window.next_open(now)
        log.info("window.paused", campaign=self.campaign, window=str(window), until=opens.isoformat())
        resumed = wait_until(opens, self.clock, stop, _countdown_display("outside the window; resumes in"))
        _end_countdown_display()
        if resumed:
            log.info("window.resumed", campaign=self.campaign, window=str(window))
        return resumed

    def _finish_batch(self, run: RunInfo, tally: Tally, batch: Batch, outcomes: Sequence[Outcome]) -> None:
        for _, origin, outcome in batch.decided:
            log_outcome(outcome, origin)
        origins = {m.contact.email: m.contact.origin for m in batch.messages}
        for outcome in outcomes:
            log_outcome(outcome, origins.get(outcome.email, ""))
        everything = [o for _, _, o in batch.decided] + list(outcomes) + batch.unknown
        tally.skipped += batch.skipped
        tally.add(everything)
        notify(self.pm, "tierii_batch_finished", run=run, outcomes=everything)


class _Windowed:
    """A delivery whose every provider call starts inside the sending window."""

    def __init__(self, delivery: Delivery, inside: Callable[[], bool]) -> None:
        self.delivery = delivery
        self.inside = inside

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if not self.inside():  # stopped while the window was closed: not sent, the next run sends them
            reason = "not sent: stopped while outside the sending window"
            return [Outcome(m.contact.email, Status.PENDING, reason=reason) for m in messages]
        return self.delivery.deliver(messages)


def _countdown_display(what: str) -> Callable[[timedelta], None]:
    """On a terminal, one line rewritten each second: ``starts in 01:02:03``."""
    from tierii_core.schedule import countdown

    def show(remaining: timedelta) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{what} {countdown(remaining)} (Ctrl-C cancels) ")
            sys.stderr.flush()

    return show


def _end_countdown_display() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")


def _slot(provider: DeliveryProvider) -> ProviderSlot:
    limit = getattr(provider, "max_per_minute", None)
    return ProviderSlot(provider, TokenBucket.for_requests(limit) if limit else None)


def _record_key(record: Contact | Rejected) -> str:
    """A contact is keyed by its address; a rejected record by its origin, so that a repeated
    address never writes over the record of the first one."""
    if isinstance(record, Rejected):
        return key_of("", record.origin)
    return key_of(record.email)


def _capped(estimate: int | None, limit: int | None) -> int | None:
    if estimate is None:
        return limit
    return min(estimate, limit) if limit is not None else estimate
