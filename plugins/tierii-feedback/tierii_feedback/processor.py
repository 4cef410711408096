"""Apply one mailed report: suppress who must be suppressed, then record it, once.

The order is what makes a killed run safe to repeat: suppress first (the one suppress path,
:class:`tierii_core.suppression.Suppressor`, keeps the first reason and does nothing the second
time), then record the report and its events in one transaction. A run killed in between does
both again; a run killed after the record sees the report as processed and only moves it.
Reports are keyed by the SHA-256 of their bytes: the same message read again, from the same
folder or after being moved, is the same report.

Each finding is matched to its campaign and recipient, in this order (:meth:`Processor.attribute`):
the returned message's ``Message-ID`` found in the journal (campaign and recipient exactly),
else the recipient of our VERP-tagged address, else the address the report names; these two
count for the latest campaign the journal shows the address was sent in.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from attrs import frozen

from tierii_core.errors import TierIIError
from tierii_core.feedback_store import COMPLAINT, HARD, SOFT, UNSUBSCRIBE, Event, FeedbackStore
from tierii_core.journal import SentMessage, SqliteJournal, key_of
from tierii_core.models import Status
from tierii_core.suppression import Suppressor, normalise
from tierii_feedback.reports import NOT_A_REPORT, Finding, Report, Unreadable, classify
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
    """The campaign a report is about: the one of our message's ``Message-ID``, else the latest
    one the journal shows the address was sent in.

    The journal is opened (read-only) and its campaigns listed on each question, so a
    long-running ``watch`` sees campaigns sent after it started.
    """

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._journal: SqliteJournal | None = None

    def _open(self) -> SqliteJournal:
        if self._journal is None:
            self._journal = SqliteJournal(self._state_dir, read_only=True)
        return self._journal

    def campaign_for(self, email: str) -> str:
        try:
            journal = self._open()
            key = key_of(email)
            for campaign in journal.campaigns():  # latest run first
                if journal.states(campaign, [key]).get(key) is Status.SENT:
                    return campaign
        except (TierIIError, sqlite3.Error):
            self.close()  # no campaign has run here yet: nothing to match, ask again next time
        return ""

    def message(self, message_ids: tuple[str, ...]) -> SentMessage | None:
        """Our message among ``message_ids`` (the first the journal knows), with its campaign
        and recipient; None when none of them is ours."""
        if not message_ids:
            return None
        try:
            journal = self._open()
            for message_id in message_ids:
                found = journal.find_message(message_id)
                if found is not None:
                    return found
        except (TierIIError, sqlite3.Error):
            self.close()
        return None

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def _spelling(key: str) -> str:
    """A journal key in the suppression list's spelling (what findings use)."""
    try:
        return normalise(key)
    except ValueError:
        return key


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
        try:
            attributed = self.attribute(report)
        except Unreadable as exc:
            return Handled(origin, UNREADABLE, error=str(exc))
        now = self._clock()
        at = report.date if report.date and now - _PLAUSIBLE_AGE <= report.date <= now else now
        events = tuple(
            Event(finding.email, finding.kind, finding.diagnostic, campaign, at)
            for finding, campaign in attributed
        )
        suppressed = tuple(item for event in events if (item := self._suppress(event, key)) is not None)
        self.store.record(key, origin, report.kind, events)
        return Handled(origin, report.kind, suppressed=suppressed, events=events)

    def attribute(self, report: Report) -> list[tuple[Finding, str]]:
        """Each finding with its recipient and campaign ('' for none).

        1. The returned ``Message-ID`` in the journal: our message went to one recipient, so
           the report is about them (a single finding naming another address is where the
           message was forwarded; it is noted in the diagnostic). The campaign is the message's
           when the journal counts the recipient as ``sent`` there, else none (``tierii status``
           rates are over ``sent``); never another campaign's.
        2. The recipient of our VERP-tagged address, the same way, in the latest campaign the
           journal shows the address sent in.
        3. The address the report names, in that latest campaign.
        """
        sent = self.matcher.message(report.message_ids)
        recipient = _spelling(sent.email) if sent is not None else report.verp_recipient
        findings = list(report.findings)
        exact = [f for f in findings if recipient and f.email == recipient]
        if recipient and not exact and len(findings) == 1:
            finding = findings[0]
            diagnostic = finding.diagnostic
            if finding.email:
                diagnostic = f"{diagnostic} (reported for {finding.email})"
            findings = exact = [attrs.evolve(finding, email=recipient, diagnostic=diagnostic)]
        attributed = []
        for finding in findings:
            if not finding.email:
                raise Unreadable(
                    "a complaint report naming no recipient (Original-Rcpt-To, List-Unsubscribe, To) "
                    "whose returned Message-ID is not in the journal"
                )
            if sent is not None and finding in exact:
                campaign = sent.campaign if sent.state is Status.SENT else ""
            else:
                campaign = self.matcher.campaign_for(finding.email)
            attributed.append((finding, campaign))
        return attributed

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
