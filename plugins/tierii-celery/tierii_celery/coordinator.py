"""``tierii send --executor celery``: the coordinator.

It prepares the campaign exactly as a local send does (every configuration error and the
opening rule check before anything is queued: exit 2), keeps the campaign's templates and
options in the state store, streams the contacts into one task per batch (the campaign's name
and the batch's contacts: no secret), and follows the campaign in the state store until every
recipient it queued is settled, then prints the usual summary.

The state store, not the broker, is the truth. While it follows, the coordinator
- turns what a dead worker left in flight into ``unknown`` once its lease expired;
- queues again what is still waiting after ``TIERII_CELERY_REQUEUE_AFTER`` seconds without
  progress (a broker that restarted and lost its queue): the claim stops a second send;
- stops (exit 3, safe to re-run) after ``TIERII_CELERY_GIVE_UP_AFTER`` re-queues in a row that
  changed nothing (no worker running, or none able to send).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from tierii_celery.settings import CelerySettings
from tierii_celery.store import CampaignSpec
from tierii_celery.worker import contact_payload
from tierii_core.errors import ConfigurationError
from tierii_core.journal import key_of
from tierii_core.logs import get_logger
from tierii_core.models import Outcome, RunInfo, RunSummary, Status

log = get_logger()

#: seconds between looks at the state store while following
FOLLOW_EVERY = 1.0
#: publishing while the broker is out of reach: retried until it is back (the campaign stalls)
RETRY_FOREVER = {"max_retries": None, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3}
DONE = (Status.SENT, Status.FAILED, Status.EXCLUDED, Status.UNKNOWN)
#: keys per journal lookup when the coordinator checks what is still waiting
LOOKUP_KEYS = 5000


class Coordinator:
    """One campaign sent by the workers: :meth:`queue`, then :meth:`follow`."""

    def __init__(self, run: Any, settings: CelerySettings, overrides: dict[str, Any]) -> None:
        from tierii_celery.app import TASK, make_app

        self.run = run  # a prepared tierii_core.runner.Campaign
        self.settings = settings
        self.overrides = overrides
        self.app = make_app(settings)
        self.task = TASK
        self.journal = run.journal
        self.campaign: str = run.campaign_id
        self.stop = threading.Event()
        self.outstanding: dict[int, list[dict[str, Any]]] = {}
        self.queued_keys: set[str] = set()
        self.batches_sent = 0
        self.local: list[Outcome] = []  # decided here: excluded, rejected rows, unknown before
        self.skipped = 0
        self.shown: dict[Status, int] = {}
        #: the journal's counts before queueing, and what the coordinator recorded itself: the
        #: workers' progress is the difference
        self.before: dict[str, int] = {}
        self.recorded: Counter[Status] = Counter()
        self.halts = _halts(settings)

    # -- queueing -----------------------------------------------------------------------------

    def check_broker(self) -> None:
        """Reach the broker before anything is queued: one that cannot be reached now is a
        configuration problem (exit 2). Later, an outage only stalls the campaign."""
        from kombu.exceptions import OperationalError

        from tierii_core.redact import mask_credentials

        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.5)
        except (OperationalError, OSError) as exc:
            shown = mask_credentials(self.settings.broker_url.reveal())
            raise ConfigurationError(
                f"TIERII_CELERY_BROKER_URL={shown}: cannot reach the broker ({exc}); nothing was queued"
            ) from None

    def spec(self, info: RunInfo) -> CampaignSpec:
        options = self.run.options
        settings = {k: v for k, v in self.overrides.items() if v is not None}
        settings["TIERII_PROVIDER"] = ",".join(self.run.provider_names)  # auto, resolved once here
        return CampaignSpec(
            campaign=self.campaign,
            template_name=Path(options.template).name,
            template_text=Path(options.template).read_text(encoding="utf-8"),
            html_name=Path(options.html).name if options.html else None,
            html_text=Path(options.html).read_text(encoding="utf-8") if options.html else None,
            subject=options.subject,
            sender=options.sender,
            retry_failed=options.retry_failed,
            retry_unknown=options.retry_unknown,
            settings={k: str(v) for k, v in settings.items()},
            source=info.source,
            total=info.total,
        )

    def save_campaign(self, info: RunInfo) -> None:
        from tierii_celery.store import CampaignSpecs

        specs = CampaignSpecs(self.run.state)
        try:
            specs.save(self.spec(info), time.time())
        finally:
            specs.close()
        stale = self.journal.open_campaign(info.campaign, info.source, info.template, info.providers)
        if stale:
            log.warning("run.unknown_found", campaign=self.campaign, count=stale)
        self.run._record_identity()  # the templates' hashes and rules, for report and approvals

    def queue(self, show: Any) -> int:
        """Every batch the journal says is not done, as one task each; how many."""
        self.before = self.journal.counts(self.campaign)
        for batch in self.run.batches():
            if batch.decided:
                self.journal.record(self.campaign, batch.decided)
                self.recorded.update(o.status for _, _, o in batch.decided)
            self.skipped += batch.skipped
            settled = [o for _, _, o in batch.decided] + batch.unknown
            self.local += settled
            if settled:
                show(settled)
            if batch.messages:
                payload = [contact_payload(m.contact) for m in batch.messages]
                self.outstanding[self.batches_sent] = payload
                self.queued_keys.update(key_of(c["email"]) for c in payload)
                self.publish(payload)
                self.batches_sent += 1
        log.info(
            "celery.queued",
            campaign=self.campaign,
            batches=self.batches_sent,
            recipients=len(self.queued_keys),
        )
        return self.batches_sent

    def publish(self, payload: list[dict[str, Any]]) -> None:
        """One task; while the broker is unreachable, kombu retries (the campaign stalls)."""
        self.app.send_task(
            self.task,
            args=(self.campaign, payload),
            queue=self.settings.queue,
            retry=True,
            retry_policy={
                "max_retries": None,
                "interval_start": 0.2,
                "interval_step": 0.5,
                "interval_max": 3,
            },
        )

    # -- following ----------------------------------------------------------------------------

    def follow(self, show: Any) -> str | None:
        """Until every queued recipient is settled; why it stopped early, or None."""
        last: dict[str, int] | None = None
        quiet_since = time.monotonic()
        idle_requeues = 0
        while self.outstanding:
            if self.stop.wait(FOLLOW_EVERY):
                return "interrupted: the workers go on with what is queued; re-run the same command to follow"
            halted = self.halts.reason(self.campaign)
            if halted is not None:  # a worker found no provider left (a daily quota used up...)
                self._show_progress(show, self.journal.counts(self.campaign))
                return f"{halted}; the rest stays pending: re-run the same command once it can send again"
            self.journal.expire(self.campaign)
            counts = self.journal.counts(self.campaign)
            if counts != last:
                last = counts
                quiet_since = time.monotonic()
                idle_requeues = 0
                settled = self._show_progress(show, counts)
                if counts.get("pending", 0) == 0 and settled >= len(self.queued_keys):
                    self.waiting()  # all seem settled: the journal says which batches are
                continue
            if time.monotonic() - quiet_since < self.settings.requeue_after:
                continue
            waiting = self.waiting()
            if not waiting:
                break
            idle_requeues += 1
            if idle_requeues > self.settings.give_up_after:
                return (
                    f"no progress after {self.settings.give_up_after} re-queues: no worker is sending "
                    f"({waiting} recipients waiting); start `tierii worker`, then re-run the same command"
                )
            log.warning("celery.requeue", campaign=self.campaign, recipients=waiting, round=idle_requeues)
            for payload in self.outstanding.values():
                self.publish(payload)
            quiet_since = time.monotonic()
        self._show_progress(show, self.journal.counts(self.campaign))
        return None

    def waiting(self) -> int:
        """Drop the settled contacts from the outstanding batches; how many are still waiting
        (never recorded, or ``pending``, or in flight under a live lease). A few queries of
        many keys each, not one per batch."""
        items = list(self.outstanding.items())
        keys = [key_of(c["email"]) for _, payload in items for c in payload]
        entries: dict[str, Any] = {}
        for start in range(0, len(keys), LOOKUP_KEYS):
            entries.update(self.journal.entries(self.campaign, keys[start : start + LOOKUP_KEYS]))
        total = 0
        for number, payload in items:
            left = [
                c
                for c in payload
                if (entry := entries.get(key_of(c["email"]))) is None or entry.status is Status.PENDING
            ]
            if left:
                self.outstanding[number] = left
                total += len(left)
            else:
                del self.outstanding[number]
        return total

    def _show_progress(self, show: Any, counts: dict[str, int]) -> int:
        """Advance the progress display by what the workers settled since the last look, read
        from the journal's counts (one grouped query, not every row); how many are settled."""
        now = {
            status: counts.get(status.value, 0) - self.before.get(status.value, 0) - self.recorded[status]
            for status in DONE
        }
        delta: list[Outcome] = []
        for status in DONE:
            more = now[status] - self.shown.get(status, 0)
            delta += [Outcome("", status)] * max(more, 0)
        self.shown = now
        if delta and self.queued_keys:
            show(delta)
        return sum(max(n, 0) for n in now.values())

    def _records(self) -> Iterator[Any]:
        for record in self.journal.recipients(self.campaign):
            if record.email in self.queued_keys and record.state in DONE:
                yield record

    def summary(self, started: float, stopped: str | None) -> RunSummary:
        from tierii_core.tally import Tally

        tally = Tally(self.campaign, rules=tuple(rule.name for rule in self.run.rules))
        tally.add(self.local)
        tally.skipped = self.skipped
        settled = set()
        for record in self._records():
            settled.add(record.email)
            tally.add([Outcome(record.email, record.state, record.provider, reason=record.last_error)])
        pending = len(self.queued_keys - settled)
        tally.counts[Status.PENDING] += pending
        tally.stopped = stopped
        tally.not_in_segment = self.run.not_in_segment
        summary = tally.summary(time.monotonic() - started)
        return attrs.evolve(
            summary,
            notes=tuple(note for rule in self.run.rules for note in rule.notes()),
            manual_checks={r.name: tuple(r.manual_checks()) for r in self.run.rules if r.manual_checks()},
        )


def _halts(settings: CelerySettings) -> Any:
    import redis

    from tierii_celery.app import broker_url
    from tierii_celery.halt import Halts

    return Halts(redis.Redis.from_url(broker_url(settings)))


def send_with_celery(run: Any, overrides: dict[str, Any], *, detach: bool) -> RunSummary | None:
    """Queue the prepared campaign ``run``, then follow it (or not, with ``detach``)."""
    from tierii_core.cli.context import settings_reader
    from tierii_core.default_plugins.observers import show_progress
    from tierii_core.observe import notify
    from tierii_core.pump import stop_on_signals
    from tierii_core.state import Where

    settings = settings_reader(overrides).load(CelerySettings, "celery")
    where: Where = run.state
    if isinstance(where, Path):
        log.warning(
            "celery.sqlite_state",
            reason="the state store is a local directory: workers on other machines cannot share it; "
            "set TIERII_STATE_URL=postgresql://... for many machines",
        )
    if run.journal is None:
        raise ConfigurationError("--executor celery needs a state store it can write")
    coordinator = Coordinator(run, settings, overrides)
    coordinator.check_broker()
    coordinator.halts.clear(run.campaign_id)  # a re-run goes on where a stop left it
    info = run.run_info()
    coordinator.save_campaign(info)
    notify(run.pm, "tierii_run_started", run=info)
    started = time.monotonic()

    def show(outcomes: list[Outcome]) -> None:
        show_progress(info, outcomes)

    stopped: str | None = None
    with contextlib.ExitStack() as resources:
        resources.callback(run.suppressions.close)
        resources.callback(run.journal.close)
        resources.enter_context(stop_on_signals(coordinator.stop))
        coordinator.queue(show)
        if detach:
            log.info("celery.detached", campaign=run.campaign, batches=coordinator.batches_sent)
            return None
        stopped = coordinator.follow(show)
        summary = coordinator.summary(started, stopped)
    notify(run.pm, "tierii_run_finished", run=info, summary=summary)
    return summary
