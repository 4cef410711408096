"""Counting a run's outcomes as they come, logging each, and the summary at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs
from attrs import define

from tierii_core.journal import reason_group
from tierii_core.logs import get_logger
from tierii_core.models import Outcome, RunSummary, Status
from tierii_core.pump import Batch

log = get_logger()


@define
class Tally:
    campaign: str
    dry_run: bool = False
    counts: Counter = attrs.Factory(Counter)
    excluded_by_reason: Counter = attrs.Factory(Counter)
    failures: list[Outcome] = attrs.Factory(list)
    skipped: int = 0
    stopped: str | None = None
    rules: tuple[str, ...] = ()
    not_in_segment: int = 0
    taken: int = 0  # claimed first by another process sending the same campaign

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.counts[outcome.status] += 1
            if outcome.status is Status.EXCLUDED:
                self.excluded_by_reason[reason_group(outcome.reason, outcome.code)] += 1
            elif outcome.status in (Status.FAILED, Status.UNKNOWN):
                self.failures.append(outcome)

    def add_batch(self, batch: Batch, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Log and count a batch's outcomes: those decided without a provider, the provider's
        (``outcomes``), and the unknown ones not resent; returns them all, for the observers."""
        for _, origin, outcome in batch.decided:
            log_outcome(outcome, origin)
        origins = {m.contact.email: m.contact.origin for m in batch.messages}
        for outcome in outcomes:
            log_outcome(outcome, origins.get(outcome.email, ""))
        everything = [o for _, _, o in batch.decided] + list(outcomes) + batch.unknown
        self.skipped += batch.skipped
        self.add(everything)
        return everything

    def summary(self, duration: float) -> RunSummary:
        return RunSummary(
            campaign=self.campaign,
            sent=self.counts[Status.SENT],
            rendered=self.counts[Status.WOULD_SEND],
            pending=self.counts[Status.PENDING],
            failed=self.counts[Status.FAILED],
            excluded=self.counts[Status.EXCLUDED],
            unknown=self.counts[Status.UNKNOWN],
            skipped=self.skipped,
            duration=duration,
            dry_run=self.dry_run,
            stopped=self.stopped,
            excluded_by_reason=dict(self.excluded_by_reason),
            failures=tuple(self.failures),
            rules=self.rules,
            not_in_segment=self.not_in_segment,
            taken=self.taken,
        )


def log_outcome(outcome: Outcome, origin: str) -> None:
    fields = {"origin": origin} if origin else {}
    if outcome.status is Status.EXCLUDED:
        log.warning("contact.excluded", **fields, email=outcome.email or None, reason=outcome.reason)
    elif outcome.status is Status.FAILED:
        kind = outcome.kind.value if outcome.kind else None
        log.warning("message.failed", **fields, email=outcome.email, kind=kind, reason=outcome.reason)
    elif outcome.status is Status.UNKNOWN:
        log.warning("message.unknown", **fields, email=outcome.email, reason=outcome.reason)


def summary_fields(summary: RunSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("failures")
    return data
