"""The state store's fixed costs: upgrading a journal from before versions, and opening one.

Builds a state database as the previous TierII left it (the journal without ``failure``, the
suppression list, no ``state_version``) with N recipients, times the first read-write open
(the upgrade, in one transaction), then the median of opening the upgraded one read-write and
read-only (what every command pays once).

    python bench/state_upgrade.py [-n 1000000] [--opens 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from tierii_core.state import FILENAME, VERSION, open_state

OLD_SCHEMA = """
CREATE TABLE campaigns (id TEXT PRIMARY KEY, source TEXT NOT NULL, template TEXT NOT NULL,
    providers TEXT NOT NULL, created_at REAL NOT NULL, last_run_at REAL NOT NULL);
CREATE TABLE recipients (campaign TEXT NOT NULL REFERENCES campaigns(id), email TEXT NOT NULL,
    state TEXT NOT NULL, origin TEXT NOT NULL DEFAULT '', provider TEXT, provider_message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (campaign, email)) WITHOUT ROWID;
CREATE INDEX recipients_state ON recipients (campaign, state);
CREATE TABLE suppressions (entry TEXT PRIMARY KEY, reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL) WITHOUT ROWID;
"""


def old_database(directory: Path, recipients: int) -> None:
    db = sqlite3.connect(directory / FILENAME)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO campaigns VALUES ('c', 'contacts.csv', 't.mustache', 'smtp', 0, 0)")
    db.executemany(
        "INSERT INTO recipients VALUES ('c', ?, 'sent', '', 'smtp', NULL, 1, NULL, 0)",
        ((f"user{i}@example.com",) for i in range(recipients)),
    )
    db.commit()
    db.close()


def median_open_ms(directory: Path, opens: int, *, read_only: bool) -> float:
    times = []
    for _ in range(opens):
        start = time.perf_counter()
        open_state(directory, read_only=read_only).close()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="recipients in the old journal")
    parser.add_argument("--opens", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        old_database(directory, args.n)
        size = (directory / FILENAME).stat().st_size
        start = time.perf_counter()
        state = open_state(directory)
        upgrade = time.perf_counter() - start
        assert [step.version for step in state.applied][-1] == VERSION
        state.close()
        what = f"{args.n:,} recipients ({size / 1e6:.0f} MB)"
        print(f"upgrade to version {VERSION}, {what}: {upgrade * 1000:.1f} ms")
        for read_only, label in ((False, "read-write"), (True, "read-only")):
            median = median_open_ms(directory, args.opens, read_only=read_only)
            print(f"open {label} (median of {args.opens}): {median:.3f} ms")


if __name__ == "__main__":
    main()
