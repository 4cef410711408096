"""Small JSON files in the user's cache directory that spare each ``tierii`` command work an
earlier one did (finding the plugins' entry points, parsing shipped data files).

The directory is ``$XDG_CACHE_HOME/tierii``, else ``~/.cache/tierii``. A cache is only ever a
shortcut: a file that is missing, unreadable, corrupt or written for other inputs (its
``stamp``, e.g. the modification times of the files it was made from, differs) reads as
``None`` and the caller does the work again; a cache that cannot be written is no error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path | None:
    """The cache directory, or None when it cannot be placed (no absolute home)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    return Path(base) / "tierii"


def load(name: str, stamp: Any) -> Any | None:
    """The data stored under ``name`` with this ``stamp``; None otherwise."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        stored = json.loads((directory / name).read_text(encoding="utf-8"))
        if stored.get("stamp") != stamp:
            return None
        return stored["data"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def store(name: str, stamp: Any, data: Any) -> None:
    """Keep ``data`` (JSON-able; anything else is not cached) under ``name`` with ``stamp``."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        text = json.dumps({"stamp": stamp, "data": data})
    except (TypeError, ValueError):
        return  # e.g. a TOML date: no cache, the file is parsed each time
    write_atomically(directory / name, text)


def write_atomically(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename: a reader sees the old file or the
    new one, never half of it; a failure leaves no cache, never an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass
