"""Remembering which addresses a campaign's source has already produced, in flat memory.

A Python set answers in ~50 ns but a million addresses cost ~100 MB; a private temporary
SQLite database (filename ``""``: on disk, deleted on close, a bounded page cache) costs a
few MB whatever the count. Most campaigns are a few thousand recipients: the set holds the
first :data:`IN_MEMORY` addresses, and only a larger campaign spills the rest to SQLite,
where :meth:`SeenAddresses.add_many` asks about a whole batch of addresses in two
statements (which are known, then insert the new ones), not one statement per address.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

#: addresses kept in a set before spilling to SQLite (~1 MB)
IN_MEMORY = 10_000
#: addresses per SELECT ... IN (...) (SQLite allows 32,766 parameters)
PER_QUERY = 500


class SeenAddresses:
    """``add(key)`` is True the first time a key (a normalised address) is seen."""

    def __init__(self, in_memory: int = IN_MEMORY) -> None:
        self._set: set[str] = set()
        self._limit = in_memory
        self._db: sqlite3.Connection | None = None

    @property
    def spilled(self) -> bool:
        """Whether the addresses have outgrown the set: batches are then cheaper than single adds."""
        return self._db is not None

    def add(self, key: str) -> bool:
        key = key.lower()
        if key in self._set:
            return False
        if self._db is None:
            if len(self._set) < self._limit:
                self._set.add(key)
                return True
            self._db = self._spill()
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount == 1

    def add_many(self, keys: Sequence[str]) -> list[bool]:
        """For each key in order, True the first time it is seen (here or in an earlier call)."""
        if self._db is None:
            return [self.add(key) for key in keys]
        lowered = [key.lower() for key in keys]
        known = {key for key in lowered if key in self._set}
        unique = list(dict.fromkeys(key for key in lowered if key not in known))
        for start in range(0, len(unique), PER_QUERY):
            part = unique[start : start + PER_QUERY]
            marks = ",".join("?" * len(part))
            known.update(
                row[0] for row in self._db.execute(f"SELECT email FROM seen WHERE email IN ({marks})", part)
            )
        self._db.executemany("INSERT INTO seen VALUES (?)", ((key,) for key in unique if key not in known))
        firsts = []
        for key in lowered:
            firsts.append(key not in known)
            known.add(key)
        return firsts

    def _spill(self) -> sqlite3.Connection:
        db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA cache_size = -4096")  # KiB
        db.execute("CREATE TABLE seen (email TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("BEGIN")
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
