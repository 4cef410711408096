"""The suppression list: addresses and whole domains that never get mail, through any provider.

It lives in the state database beside the journal. Entries are normalised so that one
address has one spelling: the domain in lower-case ASCII (IDNA), the local part case-folded
(mailbox providers treat it so, and a suppression must err on the side of not sending).
``@example.com`` suppresses a whole domain.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from attrs import frozen

from tierii_core.logs import get_logger
from tierii_core.pending import NoQueue, Pending, PendingSuppressions
from tierii_core.state import Where, is_busy, open_state

log = get_logger()


_BAD_LOCAL = re.compile(r"[\s<>,;]")


def _ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if not domain or any(c.isspace() for c in domain):
        raise ValueError("no domain")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid domain {domain!r}: {exc}") from None


def normalise(entry: str) -> str:
    """``Ana@Bücher.Example`` -> ``ana@xn--bcher-kva.example``; ``@Example.COM`` -> ``@example.com``."""
    text = entry.strip()
    local, at, domain = text.rpartition("@")
    if not at or not domain or _BAD_LOCAL.search(local):
        raise ValueError(f"{entry!r} is neither an address nor @domain")
    return f"{local.lower()}@{_ascii_domain(domain)}"


@frozen
class Suppression:
    entry: str
    reason: str
    source: str
    created_at: float


class SuppressionList:
    """Add, remove, list and check suppressions in the state store (``where``: the state
    directory, or a PostgreSQL :class:`~tierii_core.state.StateURL`).

    SQLite: entries queued in :mod:`tierii_core.pending` (while the database was locked) count
    as suppressed for every reader, and every write applies them first, in its own transaction.
    ``wait`` is how long a write waits for the database's lock before it gives up. PostgreSQL
    locks rows, not the database: suppressions are written directly, nothing is queued.
    """

    def __init__(self, where: Where, *, read_only: bool = False, wait: float = 10.0) -> None:
        self.pending = PendingSuppressions(where) if isinstance(where, Path) else NoQueue()
        self.state = open_state(where, read_only=read_only, wait=wait)
        self._db = self.state.connection

    def add(self, entries: Iterable[str], reason: str = "", source: str = "manual") -> int:
        """Add (or update) entries in one transaction; returns how many were new.

        ``entries`` may be a stream (an import of millions of lines): it is read inside the
        transaction, so a ValueError from a bad entry, any exception the stream raises, or the
        process being killed leaves the list as it was.
        """
        now = time.time()
        rows = ((normalise(e), reason, source, now) for e in entries)
        with self._transaction():
            before = self.count()
            self._db.executemany(
                "INSERT INTO suppressions VALUES (?, ?, ?, ?) ON CONFLICT(entry) DO UPDATE SET "
                "reason = excluded.reason, source = excluded.source",
                rows,
            )
            return self.count() - before

    def add_first(self, entry: str, reason: str, source: str) -> bool:
        """Add ``entry`` unless it (or its domain) is there already: the first reason wins."""
        key = normalise(entry)
        with self._transaction():
            if self._in_database([key]):
                return False
            self._db.execute(
                "INSERT INTO suppressions VALUES (?, ?, ?, ?)", (key, reason, source, time.time())
            )
            return True

    def remove(self, entries: Iterable[str]) -> int:
        keys = ((normalise(e),) for e in entries)
        with self._transaction():
            before = self.count()
            self._db.executemany("DELETE FROM suppressions WHERE entry = ?", keys)
            return before - self.count()

    def apply_pending(self) -> int:
        """Move the queued entries into the database now; how many there were.

        Raises :class:`sqlite3.OperationalError` when the database stays locked for ``wait``.
        """
        if not self.pending.entries():
            return 0
        with self._transaction() as applied:
            pass
        return len(applied)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[list[bytes]]:
        """All or nothing (the connection autocommits each statement otherwise). The queued
        entries go in first, and leave the queue once committed."""
        with self.state.transaction():
            applied = self._apply_queued()
            yield applied
        self.pending.remove(applied)

    def _apply_queued(self) -> list[bytes]:
        lines = []
        for line, item in self.pending.entries():
            if not self._in_database([item.entry]):
                self._db.execute(
                    "INSERT INTO suppressions VALUES (?, ?, ?, ?) ON CONFLICT(entry) DO NOTHING",
                    (item.entry, item.reason, item.source, item.created_at),
                )
            lines.append(line)
        return lines

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM suppressions").fetchone()[0]

    def __iter__(self) -> Iterator[Suppression]:
        """Every entry, by entry; queued ones too (not yet in the database)."""
        queued = {item.entry: item for _, item in self.pending.entries()}
        rows = self._db.execute("SELECT entry, reason, source, created_at FROM suppressions ORDER BY entry")
        stored = (Suppression(*row) for row in rows)
        if not queued:
            yield from stored
            return
        merged = {s.entry: s for s in stored}
        for entry, item in queued.items():
            merged.setdefault(entry, Suppression(item.entry, item.reason, item.source, item.created_at))
        yield from (merged[entry] for entry in sorted(merged))

    def suppressed(self, emails: Sequence[str]) -> set[str]:
        """Which of ``emails`` (as given) are suppressed, by address or by domain (queued
        suppressions included). A PostgreSQL store that went away is reconnected (for a
        bounded time: then :class:`~tierii_core.errors.RunStopped`)."""
        return self.state.attempt(lambda: self._suppressed(emails))

    def _suppressed(self, emails: Sequence[str]) -> set[str]:
        queued = {item.entry for _, item in self.pending.entries()}
        if not queued and self._db.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is None:
            return set()
        keyed: dict[str, tuple[str, str]] = {}
        for email in emails:
            try:
                key = normalise(email)
            except ValueError:
                continue
            keyed[email] = (key, "@" + key.rpartition("@")[2])
        candidates = {k for pair in keyed.values() for k in pair}
        hits = self._in_database(candidates) | (candidates & queued)
        return {email for email, (address, domain) in keyed.items() if address in hits or domain in hits}

    def _in_database(self, keys: Iterable[str]) -> set[str]:
        """Which of the normalised ``keys`` are stored; an address's domain entry counts for it."""
        wanted = set(keys)
        wanted |= {"@" + key.rpartition("@")[2] for key in wanted if not key.startswith("@")}
        candidates = sorted(wanted)
        hits: set[str] = set()
        for start in range(0, len(candidates), 500):
            chunk = candidates[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT entry FROM suppressions WHERE entry IN ({marks})", chunk)
            hits.update(row[0] for row in rows)
        return hits

    def close(self) -> None:
        self.state.close()


class Suppressor:
    """The one path by which anything outside a campaign suppresses an address: the
    unsubscribe endpoint, provider webhooks, bounce and complaint processing.

    An entry already there (the address or its domain) keeps its reason and source: the first
    reason is the one that matters, and services retry calls they think failed. Thread-safe;
    servers call :meth:`suppress` off their event loop.

    A suppression is never lost and never waits long: it is written to the database at once
    when the database is free (waiting at most :attr:`WRITE_WAIT`), else queued durably in
    :mod:`tierii_core.pending` and applied by a background thread as soon as the lock frees,
    by the next Suppressor (a server's next start), or by the next writer of the list.
    Every send reads the queue too, so a queued unsubscribe is honoured by the next send.
    """

    #: how long a suppression waits for the database's lock before it is queued instead
    WRITE_WAIT = 0.5
    #: how long the background thread waits for the lock at a time (between checks for close)
    DRAIN_WAIT = 1.0

    def __init__(self, where: Where) -> None:
        self.directory = where
        self.suppressions = SuppressionList(where, wait=self.WRITE_WAIT)
        self.pending = self.suppressions.pending
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drainer: threading.Thread | None = None
        #: set while nothing this process knows of waits in the queue (tests wait on it)
        self.applied = threading.Event()
        self.applied.set()
        with self._lock:
            try:
                self.suppressions.apply_pending()  # left by an earlier run
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                self._start_drainer()

    def suppress(self, email: str, reason: str, source: str) -> bool:
        """Suppress ``email``; False when it (or its domain) already was. ValueError on a bad address."""
        entry = normalise(email)
        with self._lock:
            if isinstance(self.pending, NoQueue):  # PostgreSQL: written at once (reconnecting if need be)
                state = self.suppressions.state
                return state.attempt(lambda: self.suppressions.add_first(entry, reason, source))
            try:
                return self.suppressions.add_first(entry, reason, source)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            try:
                if self.suppressions.suppressed([entry]):
                    return False
            except sqlite3.OperationalError:
                pass  # cannot even read it: queue it anyway (applying it twice is harmless)
            self.pending.append(Pending(entry, reason, source, time.time()))
            log.warning("suppression.queued", email=entry, reason="the state database is locked")
            self._start_drainer()
            return True

    def _start_drainer(self) -> None:
        """(Under ``_lock``.) Make sure the background thread is applying the queue."""
        self.applied.clear()
        if self._drainer is None:
            self._drainer = threading.Thread(target=self._drain, name="tierii-suppressions", daemon=True)
            self._drainer.start()

    def _drain(self) -> None:
        """Apply the queue as soon as the lock frees (SQLite's busy handler waits on it)."""
        writer = SuppressionList(self.directory, wait=self.DRAIN_WAIT)
        try:
            while not self._stop.is_set():
                try:
                    count = writer.apply_pending()
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        log.error("suppression.queue_failed", error=str(exc))
                        self._stop.wait(self.DRAIN_WAIT)
                    continue
                if count:
                    log.info("suppression.queue_applied", count=count)
                with self._lock:
                    if not self.pending.entries():
                        self._drainer = None
                        self.applied.set()
                        return
        finally:
            writer.close()

    def close(self) -> None:
        self._stop.set()
        drainer = self._drainer
        if drainer is not None:
            drainer.join(self.DRAIN_WAIT * 5)
        self.suppressions.close()
