"""The journal: what happened to every recipient of every campaign, in SQLite.

Each recipient moves ``pending -> sending -> sent | failed | excluded``, or ``unknown`` when it
was in flight as the process died or the provider's answer was lost. The runner writes one
transaction before each provider call (the batch is ``sending``) and one after (the outcomes),
so a crash at any moment leaves every recipient in a state that says what to do on a re-run:
``sent``/``failed``/``excluded`` are done, ``pending`` is sent, ``unknown`` is reported and
resent only when asked.

Each recipient's line also keeps the ``Message-ID`` of the message handed to the provider
(written with the claim), so a bounce or complaint that returns it names its campaign and
recipient exactly (:meth:`SqliteJournal.find_message`).

The runner talks to the :class:`Journal` interface; :class:`SqliteJournal` is the embedded
store. A shared store (PostgreSQL, for batches on several machines) implements the same methods.
"""

from __future__ import annotations

import fcntl
import inspect
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from attrs import frozen

from tierii_core.errors import ConfigurationError, RunStopped
from tierii_core.models import CODE_LABELS, JOURNAL_STATES, ErrorKind, Outcome, Status
from tierii_core.private import private_file
from tierii_core.state import FILENAME, check_state_dir, damaged, open_state

#: FILENAME, check_state_dir and damaged live in tierii_core.state; still importable from here
__all__ = [
    "FILENAME",
    "Entry",
    "Journal",
    "Record",
    "SentMessage",
    "SqliteJournal",
    "check_state_dir",
    "damaged",
    "keeps_message_ids",
    "key_of",
    "reason_group",
]


@frozen
class Entry:
    """What the journal knows of a recipient when a run reaches it."""

    status: Status
    failure: ErrorKind | None = None

    @property
    def final_failure(self) -> bool:
        """A failure the next run leaves alone (without ``--retry-failed``): the recipient's
        own, or one recorded before failures had kinds (the old promise: failed is final)."""
        return self.status is Status.FAILED and (self.failure is None or self.failure.is_final)


@frozen
class Record:
    """One recipient's line in the journal."""

    email: str
    state: Status
    origin: str = ""
    provider: str | None = None
    provider_message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    updated_at: float = 0.0
    failure: str | None = None
    message_id: str | None = None  # our Message-ID of the last message handed over for it
    code: str | None = None  # the reason's code (Outcome.code); None in journals from before codes


@frozen
class SentMessage:
    """Whose one of our messages was: :meth:`SqliteJournal.find_message`'s answer."""

    campaign: str
    email: str  # the journal key: the address, case-folded
    state: Status


def reason_group(reason: str | None, code: str | None = None) -> str:
    """Group exclusion reasons by their code (``repeated-address`` -> 'repeated address',
    :data:`~tierii_core.models.CODE_LABELS`); without one (a rule's exclusion, an outcome
    recorded before codes), by the text: 'repeated address a@b' -> 'repeated address'; a
    rule's 'cannabis-ca: under 21: born ...' -> 'cannabis-ca: under 21'. (Journals of TierII
    0.1 also hold invalid addresses as exclusions: 'invalid email address'.)"""
    if code:
        return CODE_LABELS.get(code, code)
    text = reason or "unknown"
    for key in ("repeated address", "invalid email address"):
        if text.startswith(key):
            return key
    return ": ".join(part.strip() for part in text.split(":")[:2])


def key_of(email: str, origin: str = "") -> str:
    """The journal key: the address, case-folded; a record without one is keyed by its origin."""
    return email.lower() if email else f"<{origin}>"


class Journal(Protocol):
    """What the runner needs from a journal store."""

    def open_campaign(self, campaign: str, source: str, template: str, providers: Sequence[str]) -> int:
        """Create or reopen a campaign; return how many recipients were found in flight."""

    def entries(self, campaign: str, keys: Sequence[str]) -> Mapping[str, Entry]:
        """What is known of each key that has a line (keys without one are absent)."""

    def claim(
        self, campaign: str, items: Sequence[tuple[str, str]], message_ids: Mapping[str, str] | None = None
    ) -> None:
        """(key, origin) pairs are about to be handed to a provider: mark them ``sending``.

        ``message_ids`` (key -> the message's ``Message-ID``): kept for matching bounces and
        complaints. Optional: the runner passes it only to a journal whose ``claim`` accepts
        it (:func:`keeps_message_ids`), so a store written before it keeps working.
        """

    def record(self, campaign: str, outcomes: Iterable[tuple[str, str, Outcome]]) -> None:
        """(key, origin, outcome) after the provider call (or decided without one)."""

    def counts(self, campaign: str) -> dict[str, int]: ...

    def recipients(self, campaign: str, state: Status | None = None) -> Iterator[Record]: ...

    def campaigns(self) -> list[str]: ...

    def close(self) -> None: ...


def keeps_message_ids(journal: Journal) -> bool:
    """Whether ``journal.claim`` takes ``message_ids`` (stores written before it do not)."""
    try:
        return "message_ids" in inspect.signature(journal.claim).parameters
    except (TypeError, ValueError):  # not introspectable: call it the old way
        return False


class SqliteJournal:
    """The embedded journal: its tables in the state database (:mod:`tierii_core.state`:
    ``TIERII_STATE_DIR/journal.sqlite3``, WAL, ``synchronous=FULL``, so a committed ``sent``
    survives a power cut and is never resent).

    Thread-safe: one connection, used under a lock (the runner's workers share it).
    """

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        self.path = directory / FILENAME
        self._lock = threading.RLock()
        self._locks: dict[str, Any] = {}
        # columns an older journal lacks read NULL when it is opened read-only (state.py)
        self._failure = "failure"
        self._message_id = "message_id"
        if read_only and not self.path.exists():
            raise ConfigurationError(f"no journal in {directory} (no campaign has run there yet)")
        self._state = open_state(directory, read_only=read_only)
        self._db = self._state.connection

    # -- writing ------------------------------------------------------------------------------

    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            try:
                with self._state.transaction():
                    for sql, params in statements:
                        self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise RunStopped(f"journal {self.path}: cannot write: {exc}; nothing more is sent") from None

    def open_campaign(self, campaign: str, source: str, template: str, providers: Sequence[str]) -> int:
        """Create or reopen a campaign (one run at a time) and turn leftovers ``sending`` -> ``unknown``."""
        self._lock_campaign(campaign)
        now = time.time()
        with self._lock:
            stale = self._db.execute(
                "SELECT count(*) FROM recipients WHERE campaign = ? AND state = 'sending'", (campaign,)
            ).fetchone()[0]
        self._write(
            [
                (
                    "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET last_run_at = excluded.last_run_at",
                    (campaign, source, template, ",".join(providers), now, now),
                ),
                (
                    "UPDATE recipients SET state = ?, last_error = ?, updated_at = ? "
                    "WHERE campaign = ? AND state = 'sending'",
                    (
                        Status.UNKNOWN.value,
                        "in flight when an earlier run stopped: the provider may have accepted it",
                        now,
                        campaign,
                    ),
                ),
            ]
        )
        return stale

    def _lock_campaign(self, campaign: str) -> None:
        """An exclusive lock file per campaign: two runs of one campaign at once would double-send."""
        if campaign in self._locks:
            return
        lock_path = self.path.parent / f"{_safe(campaign)}.lock"
        handle = open(private_file(lock_path), "a+")  # noqa: SIM115 - held for the journal's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ConfigurationError(
                f"campaign {campaign} is being sent by another tierii process (lock {lock_path}); "
                "wait for it to finish"
            ) from None
        self._locks[campaign] = handle

    def claim(
        self, campaign: str, items: Sequence[tuple[str, str]], message_ids: Mapping[str, str] | None = None
    ) -> None:
        now = time.time()
        ids = message_ids or {}
        self._write(
            (
                "INSERT INTO recipients (campaign, email, state, origin, attempts, updated_at, message_id) "
                "VALUES (?, ?, 'sending', ?, 1, ?, ?) ON CONFLICT(campaign, email) DO UPDATE SET "
                "state = 'sending', attempts = attempts + 1, updated_at = excluded.updated_at, "
                "message_id = coalesce(excluded.message_id, message_id)",
                (campaign, key, origin, now, ids.get(key)),
            )
            for key, origin in items
        )

    def record(self, campaign: str, outcomes: Iterable[tuple[str, str, Outcome]]) -> None:
        now = time.time()
        self._write(
            (
                "INSERT INTO recipients (campaign, email, state, origin, provider, provider_message_id, "
                "last_error, updated_at, failure, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(campaign, email) DO UPDATE SET state = excluded.state, "
                "provider = coalesce(excluded.provider, provider), "
                "provider_message_id = excluded.provider_message_id, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at, failure = excluded.failure, "
                "reason_code = excluded.reason_code",
                (
                    campaign,
                    key,
                    outcome.status.value,
                    origin,
                    outcome.provider,
                    outcome.provider_message_id,
                    outcome.reason,
                    now,
                    outcome.kind.value if outcome.status is Status.FAILED and outcome.kind else None,
                    outcome.code,
                ),
            )
            for key, origin, outcome in outcomes
        )

    # -- reading ------------------------------------------------------------------------------

    def entries(self, campaign: str, keys: Sequence[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT email, state, {self._failure} FROM recipients "
                    f"WHERE campaign = ? AND email IN ({marks})",
                    (campaign, *chunk),
                )
                for email, state, failure in rows:
                    found[email] = Entry(
                        self._status(campaign, state), ErrorKind(failure) if failure else None
                    )
        return found

    def states(self, campaign: str, keys: Sequence[str]) -> dict[str, Status]:
        return {key: entry.status for key, entry in self.entries(campaign, keys).items()}

    def counts(self, campaign: str) -> dict[str, int]:
        counts = {status.value: 0 for status in JOURNAL_STATES}
        with self._lock:
            rows = self._db.execute(
                "SELECT state, count(*) FROM recipients WHERE campaign = ? GROUP BY state", (campaign,)
            )
            for state, count in rows:
                counts[self._status(campaign, state).value] += count
        return counts

    def recipients(self, campaign: str, state: Status | None = None) -> Iterator[Record]:
        sql = (
            "SELECT email, state, origin, provider, provider_message_id, attempts, last_error, updated_at, "
            f"{self._failure}, {self._message_id}, reason_code FROM recipients WHERE campaign = ?"
        )
        params: tuple[Any, ...] = (campaign,)
        if state is not None:
            sql += " AND state = ?"
            params += (state.value,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY updated_at, email", params).fetchall()
        for row in rows:
            yield Record(row[0], self._status(campaign, row[1]), *row[2:])

    def find_message(self, message_id: str) -> SentMessage | None:
        """The campaign and recipient our message ``<...@...>`` went to (case-insensitively);
        None when the journal never handed over a message with that Message-ID."""
        with self._lock:
            row = self._db.execute(
                "SELECT campaign, email, state FROM recipients "
                "WHERE message_id = ? COLLATE NOCASE ORDER BY updated_at DESC LIMIT 1",
                (message_id,),
            ).fetchone()
        return SentMessage(row[0], row[1], self._status(row[0], row[2])) if row else None

    def _status(self, campaign: str, state: str) -> Status:
        """'sending' is in flight while a run holds the campaign, else it may have been delivered."""
        if state != "sending":
            return Status(state)
        return Status.PENDING if self._is_live(campaign) else Status.UNKNOWN

    def _is_live(self, campaign: str) -> bool:
        if campaign in self._locks:
            return True
        lock_path = self.path.parent / f"{_safe(campaign)}.lock"
        if not lock_path.exists():
            return False
        with open(lock_path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def campaigns(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT id FROM campaigns ORDER BY last_run_at DESC")]

    def close(self) -> None:
        with self._lock:
            self._state.close()
        for handle in self._locks.values():
            handle.close()
        self._locks.clear()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
