"""Progress and the end-of-run summary: a rich bar on a terminal, log events otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tierii_core import hookimpl
from tierii_core.logs import get_logger
from tierii_core.models import Outcome, RunInfo, RunSummary, Status

if TYPE_CHECKING:  # rich is imported when a run starts on a terminal: `tierii --help` stays fast
    from rich.progress import Progress

log = get_logger()

PLAIN_PROGRESS_EVERY = 5.0  # seconds between progress events when not on a terminal
ESTIMATE_EVERY = 0.5  # seconds between asking the source for a fresher estimate of the total


class _Display:
    """The progress of one run: a rich bar on a terminal, a ``run.progress`` event every
    :data:`PLAIN_PROGRESS_EVERY` seconds otherwise.

    The total is the source's estimate (``run.total``), asked again as the run goes
    (``run.estimate``: a CSV file's estimate sharpens as it is read, in one pass); without
    one, the bar shows the count and the rate, and the total is filled in when the source
    knows it, at the latest when the run ends.
    """

    def __init__(self, run: RunInfo, *, terminal: bool | None = None) -> None:
        self.done = 0
        self.sent = 0
        self.total = run.total
        self.estimate = getattr(run, "estimate", None)
        self.last_event = self.last_estimate = time.monotonic()
        self.progress: Progress | None = None
        if sys.stderr.isatty() if terminal is None else terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8.0f}/min"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            verb = "Checking" if run.dry_run else "Sending"
            self.task = self.progress.add_task(f"{verb} {run.campaign}", total=self.total, rate=0.0)
            self.progress.start()
        self.started = time.monotonic()

    def advance(self, run: RunInfo, outcomes: Sequence[Outcome]) -> None:
        self.done += len(outcomes)
        self.sent += sum(1 for o in outcomes if o.status in (Status.SENT, Status.WOULD_SEND))
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        rate = self.sent * 60 / elapsed
        if self.estimate is not None and now - self.last_estimate >= ESTIMATE_EVERY:
            self.last_estimate = now
            self.total = self.estimate() or self.total
        if self.total is not None and self.done > self.total:
            self.total = self.done  # an estimate that fell short
        if self.progress is not None:
            self.progress.update(self.task, advance=len(outcomes), rate=rate, total=self.total)
        elif now - self.last_event >= PLAIN_PROGRESS_EVERY:
            self.last_event = now
            log.info(
                "run.progress",
                campaign=run.campaign,
                done=self.done,
                total=self.total,
                per_minute=round(rate),
            )

    def stop(self, *, complete: bool) -> None:
        """The run ended; ``complete``: it read every record, so the total is what was done."""
        if complete:
            self.total = self.done
        elif self.estimate is not None:
            self.total = max(self.estimate() or self.done, self.done)
        if self.progress is not None:
            self.progress.update(self.task, total=self.total, completed=self.done)
            self.progress.stop()


_displays: dict[str, _Display] = {}


@hookimpl
def tierii_run_started(run: RunInfo) -> None:
    _displays[run.campaign] = _Display(run)


@hookimpl
def tierii_batch_finished(run: RunInfo, outcomes: Sequence[Outcome]) -> None:
    display = _displays.get(run.campaign)
    if display is not None:
        display.advance(run, outcomes)


def show_progress(run: RunInfo, outcomes: Sequence[Outcome]) -> None:
    """Advance the run's progress display without a batch-finished hook: for a coordinator whose
    batches finish on other machines (tierii-celery), where the hook fires on the worker."""
    display = _displays.get(run.campaign)
    if display is not None:
        display.advance(run, outcomes)


@hookimpl
def tierii_run_finished(run: RunInfo, summary: RunSummary) -> None:
    from tierii_core.observe import failed_observers

    display = _displays.pop(run.campaign, None)
    if display is not None:
        display.stop(complete=summary.stopped is None)
    # plugins' observers run before this default one, so their failures are known here
    print_summary(summary, failed_observers(run))


def print_summary(summary: RunSummary, failed_observers: Sequence[str] = ()) -> None:
    """The end-of-run summary on stdout: counts, rate, error rate, duration, and why it stopped.

    ``failed_observers`` names the observer hooks that raised (the run went on without them).
    """
    out = sys.stdout
    if summary.dry_run:
        out.write(f"dry run: {summary.rendered} would be sent (nothing was sent)\n")
    else:
        out.write(f"sent: {summary.sent}\n")
    retried = sum(1 for f in summary.failures if f.kind is not None and not f.kind.is_final)
    again = f" ({retried} not the recipient's fault: the next run tries them again)" if retried else ""
    out.write(f"failed: {summary.failed}{again}\n")
    if summary.unknown:
        out.write(f"unknown: {summary.unknown} (may have been delivered; not resent)\n")
    if summary.pending:
        out.write(f"pending: {summary.pending} (not sent yet: re-run the same command)\n")
    out.write(f"excluded: {summary.excluded}\n")
    for reason, count in sorted(summary.excluded_by_reason.items()):
        out.write(f"  {reason}: {count}\n")
    out.write(f"rules checked: {', '.join(summary.rules) or 'none'}\n")
    for note in summary.notes:
        out.write(f"  {note}\n")
    if summary.dry_run and summary.manual_checks:
        out.write("review by hand (a text check cannot see these):\n")
        for rule, items in summary.manual_checks.items():
            out.write(f"  {rule}:\n")
            for item in items:
                out.write(f"    - {item}\n")
    if summary.not_in_segment:
        out.write(f"not in segment (--where; not recipients): {summary.not_in_segment}\n")
    if summary.taken:
        out.write(
            f"taken by another process: {summary.taken} (sending campaign {summary.campaign} at the same "
            "time: that process sends them)\n"
        )
    if summary.skipped:
        out.write(
            f"already done in an earlier run: {summary.skipped} (same campaign {summary.campaign}; "
            "to send it again as a new campaign, pass --campaign NAME)\n"
        )
    out.write(f"emails/min: {summary.emails_per_minute:.0f}\n")
    out.write(f"error rate: {summary.error_rate:.1%}\n")
    out.write(f"duration: {summary.duration:.2f}s\n")
    for failure in summary.failures[:20]:
        out.write(f"  {failure.status.value} {failure.email}: {failure.reason}\n")
    if len(summary.failures) > 20:
        out.write(f"  ... and {len(summary.failures) - 20} more (see --report)\n")
    for line in failed_observers:
        out.write(f"observer failed (the run went on without it): {line}\n")
    if summary.stopped:
        out.write(f"stopped: {summary.stopped}\n")
    if not summary.dry_run:
        out.write(f"the campaign's record: tierii report {summary.campaign} --html report.html\n")
    out.flush()
