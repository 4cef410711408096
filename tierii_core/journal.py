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

The claim is what keeps a recipient from getting a campaign twice, in one process or in many
sharing the campaign (on one machine or several, through a PostgreSQL store): one statement
moves each key from absent, ``pending``, or a failure worth retrying to ``sending``, and names
this process as its owner; a key another process holds, or that is ``sent``, is not claimed and
not handed to a provider. The owner keeps a lease (:mod:`tierii_core.leases`) alive while it
runs; a key left ``sending`` by an owner whose lease expired (the process died) is ``unknown``.

The runner talks to the :class:`Journal` interface; :class:`StateJournal` keeps it in the state
store, SQLite or PostgreSQL (:func:`tierii_core.state.open_state`), with one copy of its SQL.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from attrs import frozen

from tierii_core.errors import ConfigurationError, RunStopped
from tierii_core.leases import Lease, died_here
from tierii_core.logs import get_logger
from tierii_core.models import CODE_LABELS, JOURNAL_STATES, ErrorKind, Outcome, Status
from tierii_core.state import FILENAME, Where, check_state_dir, damaged, describe, open_state

log = get_logger()
T = TypeVar("T")

#: FILENAME, check_state_dir and damaged live in tierii_core.state; still importable from here
__all__ = [
    "FILENAME",
    "Entry",
    "Journal",
    "NoJournal",
    "Record",
    "SentMessage",
    "SqliteJournal",
    "StateJournal",
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
    ) -> set[str] | None:
        """(key, origin) pairs are about to be handed to a provider: mark them ``sending``, and
        return the keys this process claimed (None, as journals written before claims did:
        all of them). Only those are handed over; another process holds the others.

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


class NoJournal(ConfigurationError):
    """A read-only journal was asked of a store where no campaign has run yet."""


class StateJournal:
    """The journal in the state store (:mod:`tierii_core.state`): ``where`` is a state
    directory (``TIERII_STATE_DIR/journal.sqlite3``, WAL, ``synchronous=FULL``, so a committed
    ``sent`` survives a power cut and is never resent) or a PostgreSQL :class:`StateURL`.

    ``retry_failed`` / ``retry_unknown`` (the run's ``--retry-failed`` / ``--retry-unknown``)
    widen what a claim may take: a permanent failure, an ``unknown`` recipient. ``lease``:
    seconds this process's claims stay its own without a heartbeat (renewed every
    ``heartbeat`` seconds while a campaign is open, by default a sixth of the lease; None: only
    by claims and :meth:`renew`);
    ``clock``: epoch seconds, for tests. Every process's clock must agree to well within the
    lease (NTP). ``reconnect_for``: seconds a PostgreSQL store keeps reconnecting before the
    run stops.

    Thread-safe: one connection, used under a lock (the runner's workers share it).
    """

    def __init__(
        self,
        where: Where,
        *,
        read_only: bool = False,
        retry_failed: bool = False,
        retry_unknown: bool = False,
        lease: float = 60.0,
        heartbeat: float | None = -1.0,
        clock: Callable[[], float] = time.time,
        reconnect_for: float | None = None,
    ) -> None:
        self.where = where
        self.path = where / FILENAME if isinstance(where, Path) else None
        self._lock = threading.RLock()
        self._clock = clock
        # columns an older journal lacks read NULL when it is opened read-only (state.py)
        self._failure = "failure"
        self._message_id = "message_id"
        if read_only and isinstance(where, Path) and not (where / FILENAME).exists():
            raise NoJournal(f"no journal in {where} (no campaign has run there yet)")
        self._state = open_state(where, read_only=read_only)
        if read_only and not self._state.exists:
            self._state.close()
            raise NoJournal(f"no journal in {describe(where)} (no campaign has run there yet)")
        self._db = self._state.connection
        if reconnect_for is not None and hasattr(self._state, "reconnect_for"):
            self._state.reconnect_for = reconnect_for  # a store whose server can go away
        self.read_only = read_only
        self.retry_failed = retry_failed
        self.retry_unknown = retry_unknown
        self.lease = Lease(self, lease, lease / 6 if heartbeat == -1.0 else heartbeat, clock)

    @property
    def owner(self) -> str:
        """This process's name on its claims: host:pid:random."""
        return self.lease.owner

    # -- the store ----------------------------------------------------------------------------

    def _run(self, work: Callable[[], T]) -> T:
        """Under the journal's lock; a lost PostgreSQL connection is reconnected and ``work``
        repeated (every write here is safe to repeat); an error of the store stops the run."""
        with self._lock:
            try:
                return self._state.attempt(work)
            except self._state.Error as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise RunStopped(f"journal {describe(self.where)}: {first}; nothing more is sent") from None

    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        batch = list(statements)

        def work() -> None:
            with self._state.transaction():
                for sql, params in batch:
                    self._db.execute(sql, params)

        self._run(work)

    # -- writing ------------------------------------------------------------------------------

    def open_campaign(self, campaign: str, source: str, template: str, providers: Sequence[str]) -> int:
        """Create or reopen a campaign, start this process's lease, and turn what it finds
        ``sending`` under an expired lease (a process that died) into ``unknown``; how many.

        Processes running the same campaign at once share its recipients: each sends only what
        its claims took (the claim, not a lock, keeps them apart)."""
        now = self._clock()
        self.lease.start()
        self._write(
            [
                (
                    "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET last_run_at = excluded.last_run_at",
                    (campaign, source, template, ",".join(providers), now, now),
                )
            ]
        )
        return self.expire(campaign)

    def expire(self, campaign: str) -> int:
        """``sending`` rows whose owner's lease expired (or that have no owner: a TierII from
        before claims) become ``unknown``; rows of a live owner are left alone. How many.

        An owner of this machine whose process is gone is expired at once (its pid is checked):
        a run killed and started again does not wait out the lease."""
        now = self._clock()

        def work() -> int:
            with self._state.transaction():
                live = self._db.execute("SELECT owner FROM owners WHERE expires_at > ?", (now,)).fetchall()
                for (owner,) in live:
                    if died_here(owner):  # killed on this machine: no need to wait for its lease
                        self._db.execute("UPDATE owners SET expires_at = ? WHERE owner = ?", (now - 1, owner))
                cursor = self._db.execute(
                    "UPDATE recipients SET state = 'unknown', last_error = ?, updated_at = ? "
                    "WHERE campaign = ? AND state = 'sending' AND NOT EXISTS (SELECT 1 FROM owners "
                    "WHERE owners.owner = recipients.owner AND owners.expires_at > ?)",
                    (
                        "in flight when an earlier run stopped: the provider may have accepted it",
                        now,
                        campaign,
                        now,
                    ),
                )
                # owners gone for a day are forgotten (their rows, if any, are unknown by now)
                self._db.execute("DELETE FROM owners WHERE expires_at < ?", (now - 86400,))
                return max(cursor.rowcount, 0)

        return self._run(work)

    def renew(self) -> bool:
        """Extend this process's lease; False when it had already expired (see :class:`Lease`)."""
        return self.lease.renew()

    def claim(
        self, campaign: str, items: Sequence[tuple[str, str]], message_ids: Mapping[str, str] | None = None
    ) -> set[str]:
        """Claim ``(key, origin)`` pairs for this process, atomically per key; the keys claimed.

        One ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`` per chunk: a key is
        taken when it is absent, ``pending``, a failure worth retrying (any failure with
        ``retry_failed``), ``unknown`` with ``retry_unknown``, or already this owner's
        ``sending`` (a claim repeated after a lost connection). A key another owner holds or
        that is ``sent`` or ``excluded`` is left alone. Raises :class:`RunStopped` when this
        process's lease has expired (its claims may have been declared unknown meanwhile).
        """
        ids = message_ids or {}
        unique = dict(items)  # one row per key (PostgreSQL refuses a statement touching a row twice)
        keys = sorted(unique)  # the same order in every process: row locks never deadlock
        allowed = "recipients.state = 'pending' OR (recipients.state = 'failed' AND "
        allowed += (
            "1 = 1)"
            if self.retry_failed
            else f"recipients.failure IS NOT NULL AND recipients.failure != '{ErrorKind.PERMANENT.value}')"
        )
        if self.retry_unknown:
            allowed += " OR recipients.state = 'unknown'"
        allowed += " OR (recipients.state = 'sending' AND recipients.owner = excluded.owner)"
        claimed: set[str] = set()
        self.lease.start()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            now = self._clock()
            rows = ", ".join("(?, ?, 'sending', ?, 1, ?, ?, ?)" for _ in chunk)
            params: list[Any] = []
            for key in chunk:
                params += [campaign, key, unique[key], now, ids.get(key), self.owner]
            sql = (
                "INSERT INTO recipients (campaign, email, state, origin, attempts, updated_at, message_id, "
                f"owner) VALUES {rows} ON CONFLICT(campaign, email) DO UPDATE SET state = 'sending', "
                "attempts = recipients.attempts + 1, updated_at = excluded.updated_at, "
                "message_id = coalesce(excluded.message_id, recipients.message_id), owner = excluded.owner "
                f"WHERE {allowed} RETURNING email"
            )

            def work(sql: str = sql, params: list[Any] = params) -> list[str]:
                with self._state.transaction():
                    if not self.lease.renew_in_transaction():
                        raise RunStopped(self.lease.lost_reason())
                    return [row[0] for row in self._db.execute(sql, params).fetchall()]

            claimed.update(self._run(work))
        return claimed

    def record(self, campaign: str, outcomes: Iterable[tuple[str, str, Outcome]]) -> None:
        """Outcomes; a line already ``sent``, or in flight under another owner, is left as it is.
        One transaction, one statement run for every outcome (pipelined on PostgreSQL)."""
        now = self._clock()
        rows = [
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
                self.owner,
            )
            for key, origin, outcome in outcomes
        ]
        if not rows:
            return
        rows.sort(key=lambda row: row[1])  # rows locked in the claims' order: fewer deadlocks to retry
        sql = (
            "INSERT INTO recipients (campaign, email, state, origin, provider, provider_message_id, "
            "last_error, updated_at, failure, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(campaign, email) DO UPDATE SET state = excluded.state, "
            "provider = coalesce(excluded.provider, recipients.provider), "
            "provider_message_id = excluded.provider_message_id, last_error = excluded.last_error, "
            "updated_at = excluded.updated_at, failure = excluded.failure, "
            "reason_code = excluded.reason_code "
            # a sent line never changes; a line in flight belongs to its owner
            "WHERE recipients.state != 'sent' "
            "AND (recipients.state != 'sending' OR recipients.owner = ?)"
        )

        def work() -> None:
            with self._state.transaction():
                self._db.executemany(sql, rows)

        self._run(work)

    # -- reading ------------------------------------------------------------------------------

    def _live(self) -> str:
        """SQL: 1 when the row's owner holds a live lease (``?``: now)."""
        return (
            "CASE WHEN EXISTS (SELECT 1 FROM owners WHERE owners.owner = recipients.owner "
            "AND owners.expires_at > ?) THEN 1 ELSE 0 END"
        )

    def entries(self, campaign: str, keys: Sequence[str]) -> dict[str, Entry]:
        def work() -> dict[str, Entry]:
            found: dict[str, Entry] = {}
            now = self._clock()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT email, state, {self._failure}, {self._live()} FROM recipients "
                    f"WHERE campaign = ? AND email IN ({marks})",
                    (now, campaign, *chunk),
                ).fetchall()
                for email, state, failure, live in rows:
                    found[email] = Entry(_status(state, live), ErrorKind(failure) if failure else None)
            return found

        return self._run(work)

    def states(self, campaign: str, keys: Sequence[str]) -> dict[str, Status]:
        return {key: entry.status for key, entry in self.entries(campaign, keys).items()}

    def counts(self, campaign: str) -> dict[str, int]:
        def work() -> dict[str, int]:
            counts = {status.value: 0 for status in JOURNAL_STATES}
            rows = self._db.execute(
                f"SELECT state, {self._live()} AS live, count(*) FROM recipients WHERE campaign = ? "
                "GROUP BY state, live",
                (self._clock(), campaign),
            ).fetchall()
            for state, live, count in rows:
                counts[_status(state, live).value] += int(count)
            return counts

        return self._run(work)

    def recipients(self, campaign: str, state: Status | None = None) -> Iterator[Record]:
        sql = (
            "SELECT email, state, origin, provider, provider_message_id, attempts, last_error, updated_at, "
            f"{self._failure}, {self._message_id}, reason_code, {self._live()} "
            "FROM recipients WHERE campaign = ?"
        )
        params: tuple[Any, ...] = (self._clock(), campaign)
        if state is not None:
            sql += " AND state = ?"
            params += (state.value,)
        rows = self._run(lambda: self._db.execute(sql + " ORDER BY updated_at, email", params).fetchall())
        for row in rows:
            yield Record(row[0], _status(row[1], row[-1]), *row[2:-1])

    def find_message(self, message_id: str) -> SentMessage | None:
        """The campaign and recipient our message ``<...@...>`` went to (case-insensitively);
        None when the journal never handed over a message with that Message-ID."""
        row = self._run(
            lambda: self._db.execute(
                f"SELECT campaign, email, state, {self._live()} FROM recipients "
                "WHERE message_id = ? COLLATE NOCASE ORDER BY updated_at DESC LIMIT 1",
                (self._clock(), message_id),
            ).fetchone()
        )
        return SentMessage(row[0], row[1], _status(row[2], row[3])) if row else None

    def campaigns(self) -> list[str]:
        return self._run(
            lambda: [row[0] for row in self._db.execute("SELECT id FROM campaigns ORDER BY last_run_at DESC")]
        )

    def close(self) -> None:
        self.lease.stop()
        with self._lock:
            self._state.close()


#: the journal's name before it kept the state in either store (still importable, same class)
SqliteJournal = StateJournal


def _status(state: str, live: Any) -> Status:
    """'sending' is in flight while its owner's lease lives, else it may have been delivered."""
    if state != "sending":
        return Status(state)
    return Status.PENDING if live else Status.UNKNOWN
