"""Hold the state database's write lock from another process, as a long send or a stuck
tool would: for testing that suppressions are queued, never lost, while it is locked."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@contextlib.contextmanager
def hold_state_lock(state_dir: Path) -> Iterator[None]:
    """Another process holds ``state_dir/journal.sqlite3``'s write lock until the block ends."""
    from tierii_core.state import FILENAME

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state_dir / FILENAME)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if holder.stdout.readline() != "locked\n":
            raise RuntimeError(f"could not lock {state_dir / FILENAME}")
        yield
    finally:
        holder.stdin.close()  # the holder commits and exits
        holder.wait(30)
