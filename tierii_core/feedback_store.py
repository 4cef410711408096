"""What came back after sending: bounces, complaints and mailed unsubscribes, per campaign.

Two tables in the state database (``TIERII_STATE_DIR/journal.sqlite3``, :mod:`tierii_core.state`,
which creates them), beside the journal's and the suppression list's:

- ``feedback_reports``: every message that was looked at (its key, e.g. ``sha256:...``), so
  a second run, or a run after one that was killed, counts each report once;
- ``feedback_events``: one row per (report, address, kind): ``hard``, ``soft``,
  ``complaint`` or ``unsubscribe``, with the campaign it was matched to ('' when none).

A report and its events are written in one transaction. The processor suppresses *before*
it records (through :class:`tierii_core.suppression.Suppressor`, which keeps the first reason),
so a process killed between the two does the same again on the next run and ends the same.
``tierii status`` reads the counts with :meth:`FeedbackStore.summary`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from attrs import frozen

from tierii_core.errors import RunStopped
from tierii_core.state import Where, open_state

#: the kinds of event, as stored
HARD, SOFT, COMPLAINT, UNSUBSCRIBE = "hard", "soft", "complaint", "unsubscribe"


@frozen
class Event:
    """One address's line in one report."""

    email: str
    kind: str
    diagnostic: str = ""
    campaign: str = ""
    at: float = 0.0


@frozen
class CampaignFeedback:
    """Per campaign: distinct addresses with each kind of event, and the rates over ``sent``."""

    sent: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribes: int

    @property
    def delivered(self) -> int:
        return max(self.sent - self.hard_bounces, 0)

    @property
    def bounce_rate(self) -> float:
        return self.hard_bounces / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        """Complaints over delivered messages, as the mailbox providers compute it."""
        return self.complaints / self.delivered if self.delivered else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "delivered": self.delivered,
            "hard_bounces": self.hard_bounces,
            "soft_bounces": self.soft_bounces,
            "complaints": self.complaints,
            "unsubscribes_by_mail": self.unsubscribes,
            "bounce_rate": round(self.bounce_rate, 6),
            "complaint_rate": round(self.complaint_rate, 6),
        }


#: complaint rates past which ``tierii status`` warns, and says it is an error (Gmail's lines)
COMPLAINT_WARNING = 0.001
COMPLAINT_ERROR = 0.003


class FeedbackStore:
    """The feedback tables; read-only (for ``tierii status``) or read-write (for processing)."""

    def __init__(self, where: Where, *, read_only: bool = False) -> None:
        self._lock = threading.Lock()
        self.state = open_state(where, read_only=read_only)
        self.path = self.state.where
        self._db = self.state.connection

    # -- processing ---------------------------------------------------------------------------

    def processed_kind(self, report: str) -> str | None:
        """The kind a processed report was recorded as; None when it was never processed."""
        with self._lock:
            row = self._db.execute("SELECT kind FROM feedback_reports WHERE report = ?", (report,)).fetchone()
        return row[0] if row else None

    def record(self, report: str, origin: str, kind: str, events: Iterable[Event]) -> None:
        """The report and its events, in one transaction (all or nothing)."""
        now = time.time()
        rows = [(report, e.email, e.kind, e.campaign, e.diagnostic, e.at or now) for e in events]
        with self._lock:
            try:

                def work() -> None:
                    with self.state.transaction() as db:
                        db.execute(
                            "INSERT INTO feedback_reports VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            (report, origin, kind, now),
                        )
                        db.executemany(
                            "INSERT INTO feedback_events VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            rows,
                        )

                self.state.attempt(work)
            except self.state.Error as exc:
                raise RunStopped(
                    f"feedback store {self.path}: cannot write: {exc}; safe to run again"
                ) from None

    def soft_bounces(self, email: str, since: float, *, besides: str | None = None) -> int:
        """Recorded soft-bounce reports for ``email`` since ``since`` (not counting report ``besides``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(DISTINCT report) FROM feedback_events "
                "WHERE email = ? AND kind = ? AND at >= ? AND report != ?",
                (email, SOFT, since, besides or ""),
            ).fetchone()
        return int(row[0])

    # -- reading ------------------------------------------------------------------------------

    def summary(self, campaign: str, sent: int) -> CampaignFeedback:
        with self._lock:
            rows = dict(
                self._db.execute(
                    "SELECT kind, count(DISTINCT email) FROM feedback_events "
                    "WHERE campaign = ? GROUP BY kind",
                    (campaign,),
                ).fetchall()
            )
        return CampaignFeedback(
            sent, rows.get(HARD, 0), rows.get(SOFT, 0), rows.get(COMPLAINT, 0), rows.get(UNSUBSCRIBE, 0)
        )

    def events(self, campaign: str | None = None) -> list[tuple[str, str, str, str]]:
        """(campaign, email, kind, diagnostic) rows, for reports and tests."""
        sql = "SELECT campaign, email, kind, diagnostic FROM feedback_events"
        params: tuple[str, ...] = ()
        if campaign is not None:
            sql += " WHERE campaign = ?"
            params = (campaign,)
        with self._lock:
            return [tuple(r) for r in self._db.execute(sql + " ORDER BY email, kind, report", params)]

    def reports(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM feedback_reports").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.state.close()


def rate_line(feedback: CampaignFeedback) -> str | None:
    """A warning past 0.1% complaints, an error past 0.3% (Gmail's bulk-sender lines); else None."""
    rate = feedback.complaint_rate
    if rate > COMPLAINT_ERROR:
        return (
            f"error: complaint rate {rate:.2%} is past 0.3%: mailbox providers will refuse or junk this "
            "sender's mail; stop and clean the list before sending again"
        )
    if rate > COMPLAINT_WARNING:
        return f"warning: complaint rate {rate:.2%} is past 0.1% (keep it below 0.1%)"
    return None
