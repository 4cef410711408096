"""Remembering which addresses a source has already produced, in flat memory.

A Python set of a million addresses costs ~100 MB; a private temporary SQLite database
(filename ``""``: on disk, deleted on close, a bounded page cache) costs a few MB whatever
the count, at a few microseconds per address.
"""

from __future__ import annotations

import sqlite3


class SeenAddresses:
    """``add(email)`` is True the first time an address (case-insensitive) is seen."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA cache_size = -4096")  # KiB
        self._db.execute("CREATE TABLE seen (email TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def add(self, email: str) -> bool:
        cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (email.lower(),))
        return cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
