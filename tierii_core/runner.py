"""A campaign's run: assemble -> check the opening messages -> stream -> decide each record ->
deliver in batches -> record -> notify.

Everything that can be wrong with the configuration is found in :meth:`Campaign.prepare`,
before the first message leaves. After that, a recipient's problem is an :class:`Outcome`
and the run goes on; only a stop (every provider failed fatally, the circuit breaker opened,
Ctrl-C or SIGTERM, the journal cannot be written) ends it early, with exit 3, safe to re-run.

The pieces: :mod:`~tierii_core.assembly` builds the components, :mod:`~tierii_core.records`
reads the source once, :mod:`~tierii_core.batches` cuts the records into batches and asks the
journal, :mod:`~tierii_core.decisions` decides each record, :mod:`~tierii_core.delivery`
delivers one batch, :mod:`~tierii_core.pump` keeps the workers busy (and stops them),
:mod:`~tierii_core.scheduling` keeps ``--at`` and ``--window``, :mod:`~tierii_core.approval`
records what the campaign is and gates it, :mod:`~tierii_core.tally` counts.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from tierii_core import approval, sending
from tierii_core.assembly import Assembly
from tierii_core.batches import batches
from tierii_core.components import DeliveryProvider
from tierii_core.decisions import Decider, Decision
from tierii_core.delivery import ProviderSlot
from tierii_core.errors import ConfigurationError, FatalProviderError, RunStopped
from tierii_core.journal import Journal, NoJournal, SqliteJournal
from tierii_core.logs import get_logger
from tierii_core.models import Outcome, Rejected, RunInfo, RunSummary, Status
from tierii_core.observe import notify
from tierii_core.options import SendOptions, campaign_id, legacy_campaign_id, resumed_campaign_id
from tierii_core.plugins import PluginManager
from tierii_core.pump import Batch, interrupting_when_stuck, stop_on_signals
from tierii_core.ratelimit import TokenBucket
from tierii_core.records import Records
from tierii_core.redact import mask_credentials
from tierii_core.settings import CoreSettings, SettingsReader
from tierii_core.state import check_state, state_location
from tierii_core.suppression import SuppressionList
from tierii_core.tally import Tally, summary_fields

if TYPE_CHECKING:
    from tierii_core.campaign_store import Identity
    from tierii_core.clock import Clock
    from tierii_core.scheduling import Timetable
    from tierii_core.segments import Segment

__all__ = ["Campaign", "SendOptions", "campaign_id", "legacy_campaign_id"]

log = get_logger()


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
        from tierii_core.clock import SystemClock

        self.clock: Clock = clock or SystemClock()
        self.pm = pm
        self.reader = reader
        self.options = options
        self.core = core or reader.load(CoreSettings)
        self.assembly = Assembly(pm, reader, self.core)
        self.journal: Journal | None = None
        self.slots: list[ProviderSlot] = []

    # -- preparation: every configuration error surfaces here -------------------------------

    def prepare(self, *, need_provider: bool = True) -> None:
        self.source = self.assembly.source(self.options.contacts)
        self.composer = self.assembly.composer(self.options)
        self.rules = self.assembly.rules()
        self.decider = Decider(self.composer, self.rules, self.options)
        self.messages_bucket: TokenBucket | None = self.assembly.message_bucket()
        providers = self.assembly.providers() if need_provider else []
        self.slots = sending.provider_chain(providers, self.reader, self.rules)
        self.provider_names = tuple(slot.name for slot in self.slots)
        opts = self.options
        self.records = Records(self.source, tuple(opts.where), opts.limit, opts.contacts)
        self.decider.check_opening(self.records.opening)
        self.state = state_location(self.core)  # TIERII_STATE_URL, else TIERII_STATE_DIR
        if not opts.dry_run and need_provider and not opts.proof:
            self.journal = SqliteJournal(
                check_state(self.state),
                retry_failed=opts.retry_failed,
                retry_unknown=opts.retry_unknown,
                lease=self.core.state_lease,
                reconnect_for=self.core.state_reconnect,
            )
        else:  # a dry run or a proof reads what an earlier run recorded, if one did
            with contextlib.suppress(NoJournal):
                self.journal = SqliteJournal(self.state, read_only=True)
        # after the journal, which creates or upgrades the state database: the list's tables exist
        self.suppressions = SuppressionList(self.state, read_only=True)
        known = set(self.journal.campaigns()) if self.journal and not opts.campaign else set()
        self.campaign_id = resumed_campaign_id(opts, self.provider_names, known)
        if self.campaign_id != campaign_id(opts):
            log.info("campaign.resumed_by_old_name", campaign=self.campaign_id)
        if opts.proof:
            self._record_identity()
        elif (
            need_provider and not opts.dry_run and self.core.require_approval and not self.core.transactional
        ):
            approval.require_approval(self.state, self.identity())

    @property
    def campaign(self) -> str:
        """Deprecated: the campaign's id is :attr:`campaign_id` (``RunInfo.campaign`` stays)."""
        warnings.warn(
            "Campaign.campaign is deprecated: use Campaign.campaign_id", DeprecationWarning, stacklevel=2
        )
        return self.campaign_id

    @property
    def segment(self) -> Segment | None:
        return self.records.segment

    @property
    def not_in_segment(self) -> int:
        """Contacts left out by ``--where`` so far: by the source and by the core."""
        return self.records.not_in_segment

    def provider(self, name: str) -> DeliveryProvider:
        """The provider called ``name`` (or the ``auto`` choice), with its settings and credentials."""
        return self.assembly.provider(name)

    @property
    def batch_size(self) -> int:
        return sending.batch_size(self.core.batch_size, self.slots, self.messages_bucket)

    def identity(self) -> Identity:
        """What this campaign is sent with (kept for ``tierii report`` and approvals)."""
        plugin_of = {info.name: info.plugin for info in self.assembly.registry.components("rule")}
        return approval.identity_of(
            self.campaign_id, self.options, self.rules, plugin_of, self.provider_names, self.pm
        )

    def _record_identity(self) -> None:
        if self.journal is not None and not isinstance(self.journal, SqliteJournal):
            return  # another journal store keeps its own record
        approval.record_identity(self.state, self.identity())

    # -- the stream ---------------------------------------------------------------------------

    def preview(self, count: int) -> Iterator[Decision]:
        """The first ``count`` records, rendered or with their outcome decided."""
        for record in itertools.islice(self.records, count):
            email = "" if isinstance(record, Rejected) else record.email
            yield self.decider.decide(
                record, suppressed=bool(email and self.suppressions.suppressed([email]))
            )

    def batches(self) -> Iterator[Batch]:
        """Batches of records, minus those the journal says are done."""
        return batches(
            self.records,
            self.batch_size,
            campaign_id=self.campaign_id,
            journal=self.journal,
            suppressions=self.suppressions,
            decider=self.decider,
            options=self.options,
        )

    # -- the run ------------------------------------------------------------------------------

    def run_info(self) -> RunInfo:
        return RunInfo(
            campaign=self.campaign_id,
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
        timetable = self._timetable()
        with contextlib.ExitStack() as resources:
            resources.enter_context(interrupting_when_stuck(stop, self.slots))
            resources.enter_context(stop_on_signals(stop))
            resources.callback(self.suppressions.close)
            if self.journal is not None:
                resources.callback(self.journal.close)
            started = time.monotonic()
            try:
                if not self.options.dry_run:
                    # configuration problems found here (a provider's settings, a campaign another
                    # process is sending) stop the command with exit 2: nothing has been sent
                    self._open_journal(run)  # this process's lease is renewed through a scheduled wait
                    self._record_identity()
                    if not self._wait_for_start(timetable, stop):
                        tally.stopped = "cancelled before the scheduled start: nothing was sent"
                    else:
                        tally.stopped = sending.open_providers(self.slots, resources)
                notify(self.pm, "tierii_run_started", run=run)
                providers = ",".join(run.providers)
                log.info("run.started", campaign=run.campaign, provider=providers, dry_run=run.dry_run)
                started = time.monotonic()
                if self.options.dry_run:
                    self._dry_run(run, tally)
                elif not tally.stopped:
                    self._send(run, tally, stop, timetable)
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
            reason = "in flight when an earlier run stopped"
            log.warning("run.unknown_found", campaign=run.campaign, count=stale, reason=reason)

    def _dry_run(self, run: RunInfo, tally: Tally) -> None:
        for batch in self.batches():
            outcomes = [Outcome(m.contact.email, Status.WOULD_SEND) for m in batch.messages]
            self._finish_batch(run, tally, batch, outcomes)

    def _timetable(self) -> Timetable | None:
        if self.options.schedule is None:
            return None
        from tierii_core.scheduling import Timetable

        return Timetable(self.options.schedule, self.clock, self.campaign_id)

    def _wait_for_start(self, timetable: Timetable | None, stop: threading.Event) -> bool:
        """``--at``: False if Ctrl-C cancelled the wait."""
        if timetable is None or timetable.at is None:
            return True
        if not timetable.wait_for_start(stop):
            return False
        self.decider.forget_built()  # the opening messages' Date must be the sending time
        return True

    def _send(self, run: RunInfo, tally: Tally, stop: threading.Event, timetable: Timetable | None) -> None:
        assert self.journal is not None
        sending.send(
            self.batches(),
            campaign_id=run.campaign,
            slots=self.slots,
            journal=self.journal,
            core=self.core,
            tally=tally,
            messages_bucket=self.messages_bucket,
            stop=stop,
            timetable=timetable,
            finished=lambda batch, outcomes: self._finish_batch(run, tally, batch, outcomes),
        )

    def _finish_batch(self, run: RunInfo, tally: Tally, batch: Batch, outcomes: Sequence[Outcome]) -> None:
        notify(self.pm, "tierii_batch_finished", run=run, outcomes=tally.add_batch(batch, outcomes))


def _capped(estimate: int | None, limit: int | None) -> int | None:
    if estimate is None:
        return limit
    return min(estimate, limit) if limit is not None else estimate
