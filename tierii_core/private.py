"""The state directory is private to its user: the folder 0700, its files 0600.

It holds every recipient's address, the suppression list and the campaigns' history. Files
are created 0600 from the start (never readable by others, even for a moment); a folder or
file left more open by an earlier version is tightened when it is next opened for writing.
SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(directory: Path) -> Path:
    """Create ``directory`` 0700 (its missing parents as usual), or make an existing one 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(directory, 0o700)
    return directory


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if it is missing, else make it (and SQLite's files beside
    it) 0600. Returns ``path``."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        # never open and close an existing file here: closing any descriptor of a database
        # drops the POSIX locks SQLite holds on it in this process (a corruption hazard)
        _tighten(path, 0o600)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, 0o600)
    return path


def _tighten(path: Path, wanted: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) & ~wanted:
            path.chmod(wanted)
    except PermissionError:  # not ours (a shared state directory set up by an administrator)
        pass
    except FileNotFoundError:  # a companion SQLite removed meanwhile (another process checkpointed)
        pass
