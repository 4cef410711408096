"""Remembering which addresses a campaign's source has already produced, in flat memory.

A Python set answers in ~50 ns but a million addresses cost ~100 MB; a private temporary
SQLite database (filename ``""``: on disk, deleted on close, a bounded page cache) costs a
few MB whatever the count, at a few microseconds per address. Most campaigns are a few
thousand recipients: the set holds the first :data:`IN_MEMORY` addresses, and only a larger
campaign spills the rest to SQLite.
"""

from __future__ import annotations

import sqlite3

#: addresses kept in a set before spilling to SQLite (~1 MB)
IN_MEMORY = 10_000


class SeenAddresses:
    """``add(key)`` is True the first time a key (a normalised address) is seen."""

    def __init__(self, in_memory: int = IN_MEMORY) -> None:
        self._set: set[str] = set()
        self._limit = in_memory
        self._db: sqlite3.Connection | None = None

    def add(self, key: str) -> bool:
        key = key.lower()
        if key in self._set:
            return False
        if self._db is None:
            if len(self._set) < self._limit:
                self._set.add(key)
                return True
            self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA cache_size = -4096")  # KiB
            self._db.execute("CREATE TABLE seen (email TEXT PRIMARY KEY) WITHOUT ROWID")
            self._db.execute("BEGIN")
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount == 1

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
