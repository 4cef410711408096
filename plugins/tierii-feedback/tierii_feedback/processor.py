"""Apply one mailed report: suppress who must be suppressed, then record it, once.

The order is what makes a killed run safe to repeat: suppress first (the one suppress path,
:class:`tierii_core.suppression.Suppressor`, keeps the first reason and does nothing the second
time), then record the report and its events in one transaction. A run killed in between does
both again; a run killed after the record sees the report as processed and only moves it.
Reports are keyed by the SHA-256 of their bytes: the same message read again, from the same
folder or after being moved, is the same report.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from attrs import frozen

from tierii_core.errors import TierIIError
from tierii_core.feedback_store import COMPLAINT, HARD, SOFT, UNSUBSCRIBE, Event, FeedbackStore
from tierii_core.journal import SqliteJournal, key_of
from tierii_core.models import Status
from tierii_core.suppression import Suppressor
from tierii_feedback.reports import NOT_A_REPORT, Unreadable, classify
from tierii_feedback.settings import FeedbackSettings

DAY = 86400.0
#: a report dated further back than this (or in the future) counts as arriving now
_PLAUSIBLE_AGE = 365 * DAY
#: the suppression list's ``source`` for each kind
SOURCES = {HARD: "bounce", SOFT: "bounce", COMPLAINT: "complaint", UNSUBSCRIBE: "unsubscribe-mail"}

UNREADABLE = "unreadable"


@frozen
class Handled:
    """What happened to one message."""

    origin: str
    kind: str  # a report kind (reports.BOUNCE...), NOT_A_REPORT or UNREADABLE
    already: bool = False  # processed by an earlier run: nothing was done again
    suppressed: tuple[tuple[str, str], ...] = ()  # (address, reason) newly suppressed
    events: tuple[Event, ...] = ()
    error: str = ""

    @property
    def set_aside(self) -> bool:
        """A recorded report: move it out of the way. Noise and unreadable mail stay put."""
        return self.kind not in (NOT_A_REPORT, UNREADABLE)


def report_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class CampaignMatcher:
    """The campaign a report is about: the latest one the journal shows the address was sent in.

    The journal is opened (read-only) and its campaigns listed on each question, so a
    long-running ``watch`` sees campaigns sent after it started.
    """

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._journal: SqliteJournal | None = None

    def campaign_for(self, email: str) -> str:
        try:
            if self._journal is None:
                self._journal = SqliteJournal(self._state_dir, read_only=True)
            key = key_of(email)
            for campaign in self._journal.campaigns():  # latest run first
                if self._journal.states(campaign, [key]).get(key) is Status.SENT:
                    return campaign
        except (TierIIError, sqlite3.Error):
            self.close()  # no campaign has run here yet: nothing to match, ask again next time
        return ""

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def reason_for(event: Event, soft_count: int = 0, days: float = 0.0) -> str:
    if event.kind == HARD:
        return f"hard bounce ({event.diagnostic})" if event.diagnostic else "hard bounce"
    if event.kind == SOFT:
        return f"soft bounces ({soft_count} in {days:g} days, last: {event.diagnostic})"
    if event.kind == COMPLAINT:
        return f"complaint ({event.diagnostic})" if event.diagnostic else "complaint"
    return "unsubscribe (mail)"


class Processor:
    """Classifies, suppresses and records messages; one per run (``close`` it)."""

    def __init__(
        self,
        state_dir: Path,
        settings: FeedbackSettings,
        *,
        unsubscribe_mailto: str = "",
        verify_token: Callable[[str], str | None] | None = None,
        return_path: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = FeedbackStore(state_dir)
        self.suppressor = Suppressor(state_dir)
        self.matcher = CampaignMatcher(state_dir)
        self._mailto = unsubscribe_mailto
        self._verify_token = verify_token
        self._return_path = return_path
        self._clock = clock

    def handle(self, raw: bytes, origin: str) -> Handled:
        key = report_key(raw)
        kind = self.store.processed_kind(key)
        if kind is not None:
            return Handled(origin, kind, already=True)
        try:
            report = classify(
                raw,
                unsubscribe_mailto=self._mailto,
                verify_token=self._verify_token,
                return_path=self._return_path,
            )
        except Unreadable as exc:
            return Handled(origin, UNREADABLE, error=str(exc))
        now = self._clock()
        at = report.date if report.date and now - _PLAUSIBLE_AGE <= report.date <= now else now
        events = tuple(
            Event(f.email, f.kind, f.diagnostic, self.matcher.campaign_for(f.email), at)
            for f in report.findings
        )
        suppressed = tuple(item for event in events if (item := self._suppress(event, key)) is not None)
        self.store.record(key, origin, report.kind, events)
        return Handled(origin, report.kind, suppressed=suppressed, events=events)

    def _suppress(self, event: Event, key: str) -> tuple[str, str] | None:
        if event.kind == SOFT:
            since = event.at - self.settings.soft_bounce_days * DAY
            count = self.store.soft_bounces(event.email, since, besides=key) + 1
            if count < self.settings.soft_bounce_limit:
                return None
            reason = reason_for(event, count, self.settings.soft_bounce_days)
        else:
            reason = reason_for(event)
        if self.suppressor.suppress(event.email, reason, SOURCES[event.kind]):
            return (event.email, reason)
        return None

    def close(self) -> None:
        self.matcher.close()
        self.suppressor.close()
        self.store.close()
