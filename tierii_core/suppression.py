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

from tierii_core.errors import ConfigurationError
from tierii_core.journal import FILENAME
from tierii_core.journal import SCHEMA as JOURNAL_SCHEMA

SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
    entry TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) WITHOUT ROWID;
"""


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


def _open_read_only(path: Path) -> sqlite3.Connection:
    """The list without writing anything: an empty one when no campaign has run yet."""
    if path.exists():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'suppressions'").fetchone():
            return db
        db.close()
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(SCHEMA)
    return db


@frozen
class Suppression:
    entry: str
    reason: str
    source: str
    created_at: float


class SuppressionList:
    """Add, remove, list and check suppressions in ``TIERII_STATE_DIR/journal.sqlite3``."""

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        path = directory / FILENAME
        try:
            if read_only:
                self._db = _open_read_only(path)
            else:
                directory.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA busy_timeout=10000")
                self._db.executescript(JOURNAL_SCHEMA + SCHEMA)  # one state database, whole
        except sqlite3.Error as exc:
            raise ConfigurationError(f"suppression list {path}: {exc}") from None

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

    def remove(self, entries: Iterable[str]) -> int:
        keys = ((normalise(e),) for e in entries)
        with self._transaction():
            before = self.count()
            self._db.executemany("DELETE FROM suppressions WHERE entry = ?", keys)
            return before - self.count()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing (the connection autocommits each statement otherwise)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM suppressions").fetchone()[0]

    def __iter__(self) -> Iterator[Suppression]:
        for row in self._db.execute(
            "SELECT entry, reason, source, created_at FROM suppressions ORDER BY entry"
        ):
            yield Suppression(*row)

    def suppressed(self, emails: Sequence[str]) -> set[str]:
        """Which of ``emails`` (as given) are suppressed, by address or by domain."""
        if self._db.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is None:
            return set()
        keyed: dict[str, tuple[str, str]] = {}
        for email in emails:
            try:
                key = normalise(email)
            except ValueError:
                continue
            keyed[email] = (key, "@" + key.rpartition("@")[2])
        candidates = sorted({k for pair in keyed.values() for k in pair})
        hits: set[str] = set()
        for start in range(0, len(candidates), 500):
            chunk = candidates[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT entry FROM suppressions WHERE entry IN ({marks})", chunk)
            hits.update(row[0] for row in rows)
        return {email for email, (address, domain) in keyed.items() if address in hits or domain in hits}

    def close(self) -> None:
        self._db.close()


class Suppressor:
    """The one path by which anything outside a campaign suppresses an address: the
    unsubscribe endpoint, provider webhooks, bounce and complaint processing.

    An entry already there (the address or its domain) keeps its reason and source: the first
    reason is the one that matters, and services retry calls they think failed. Thread-safe;
    servers call :meth:`suppress` off their event loop.
    """

    def __init__(self, directory: Path) -> None:
        self.suppressions = SuppressionList(directory)
        self._lock = threading.Lock()

    def suppress(self, email: str, reason: str, source: str) -> bool:
        """Suppress ``email``; False when it (or its domain) already was. ValueError on a bad address."""
        with self._lock:
            if self.suppressions.suppressed([email]):
                return False
            self.suppressions.add([email], reason, source)
            return True

    def close(self) -> None:
        self.suppressions.close()
