"""The installed plugins' entry points, remembered between commands.

Every ``tierii`` command, ``--help`` included, loads the plugins, and finding their entry
points through :mod:`importlib.metadata` costs ~25 ms (its import, then reading every
installed distribution's metadata). The result is kept in the user's cache directory
(``$XDG_CACHE_HOME/tierii``, else ``~/.cache/tierii``), one file per interpreter, with
``sys.path`` and the modification time of each of its directories and of each plugin's
``entry_points.txt``: installing, upgrading or removing a distribution changes its
directory, and another ``sys.path`` is another key, so the next command scans again. Any
problem with the cache (unwritable, corrupt) means a scan, never an error;
``TIERII_NO_ENTRY_POINT_CACHE=1`` always scans.
"""

from __future__ import annotations

import json
import os
import re
import sys
import zlib
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

from tierii_core.user_cache import cache_dir, write_atomically

GROUP = "tierii"
#: the cache file's layout; a file of another version is ignored
VERSION = 1
#: ``module``, ``module:attribute.path``, optionally ``[extras]`` (importlib.metadata's syntax)
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class EntryPoint:
    """What the plugin manager needs of an entry point: its name, target and distribution."""

    __slots__ = ("dist_name", "metadata_file", "name", "value", "version")

    def __init__(
        self, name: str, value: str, dist_name: str, version: str | None, metadata_file: str = ""
    ) -> None:
        self.name, self.value = name, value
        self.dist_name, self.version, self.metadata_file = dist_name, version, metadata_file

    def load(self) -> Any:
        """Import the target, as ``importlib.metadata.EntryPoint.load`` does."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"not an entry point target: {self.value!r}")
        target: Any = import_module(match["module"])
        for attribute in (match["attr"] or "").split(".") if match["attr"] else ():
            target = getattr(target, attribute)
        return target

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def entry_points() -> list[EntryPoint]:
    """The ``tierii`` entry points of the installed distributions, in ``sys.path`` order."""
    if os.environ.get("TIERII_NO_ENTRY_POINT_CACHE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return list(_scan())
    cache = _cache_file()
    stamps = _stamps(sys.path)
    cached = _read(cache, stamps) if cache is not None else None
    if cached is not None:
        return cached
    found = list(_scan())
    if cache is not None:
        _write(cache, stamps, found)
    return found


def _scan() -> Iterator[EntryPoint]:
    from importlib import metadata

    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        path = getattr(dist, "_path", None)
        metadata_file = str(Path(path) / "entry_points.txt") if path is not None else ""
        yield EntryPoint(
            ep.name, ep.value, dist.name if dist else ep.name, dist.version if dist else None, metadata_file
        )


def _cache_file() -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    key = zlib.crc32(sys.executable.encode())  # one file per interpreter: sys.path is in it
    return directory / f"entry-points-{key:08x}.json"


def _stamps(paths: list[str]) -> dict[str, Any]:
    """The modification time of each ``sys.path`` entry (None: missing). The current directory
    (``""``, the first entry for ``python -c`` and ``-m``) changes whenever a command writes
    there (its state directory, an outbox): it is stamped by the metadata directories in it."""
    stamps: dict[str, Any] = {}
    for entry in paths:
        try:
            stamps[entry] = _metadata_in(entry) if entry in ("", ".") else os.stat(entry).st_mtime_ns
        except OSError:
            stamps[entry] = None
    return stamps


def _metadata_in(directory: str) -> list[list[Any]]:
    with os.scandir(directory or ".") as entries:
        found = [
            [entry.name, entry.stat().st_mtime_ns]
            for entry in entries
            if entry.name.endswith((".dist-info", ".egg-info"))
        ]
    return sorted(found)


def _read(cache: Path, stamps: dict[str, int | None]) -> list[EntryPoint] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        same = data.get("executable") == sys.executable and data.get("path") == list(stamps)
        if data.get("version") != VERSION or not same or data.get("stamps") != stamps:
            return None
        found = [EntryPoint(**item) for item in data["entry_points"]]
        files = data["files"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if _stamps([name for name in files if name]) != files:  # an entry_points.txt rewritten in place
        return None
    return found


def _write(cache: Path, stamps: dict[str, int | None], found: list[EntryPoint]) -> None:
    files = _stamps([ep.metadata_file for ep in found if ep.metadata_file])
    data = {
        "version": VERSION,
        "executable": sys.executable,
        "path": list(stamps),
        "stamps": stamps,
        "files": files,
        "entry_points": [ep.as_dict() for ep in found],
    }
    write_atomically(cache, json.dumps(data))
