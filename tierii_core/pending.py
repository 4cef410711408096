"""Suppressions waiting for the state database: a durable file of their own.

An unsubscribe must never be lost, and must not wait on the state database's lock (a send
holds it for moments, a stuck process for longer). When the database is busy, the entry is
appended to ``suppressions.pending`` in the state directory (a JSON line, fsync'd, under this
file's own lock) and the request is answered at once. The next writer of the suppression
list moves the file's entries into the database in its own transaction, and every reader of
the list (each send's suppression check) reads them too, so a queued unsubscribe is honoured
before it is applied.

Appending never needs the database; applying never holds this file's lock for longer than
it takes to rewrite it. A torn last line (a crash mid-append) is ignored by readers and
dropped at the next rewrite; lines already applied are removed by rewriting the file beside
it and renaming it over, so a crash at any moment leaves every entry either in the database or
in the file (or both: applying is idempotent).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from attrs import asdict, frozen

FILENAME = "suppressions.pending"


@frozen
class Pending:
    """One queued suppression: the normalised entry, why, who asked, when (epoch seconds)."""

    entry: str
    reason: str
    source: str
    created_at: float


class PendingSuppressions:
    """The queue file of one state directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILENAME
        self._seen: tuple[int, int, int] | None = None
        self._cached: list[tuple[bytes, Pending]] = []

    def append(self, item: Pending) -> None:
        """Add ``item`` durably: written and fsync'd before this returns."""
        line = json.dumps(asdict(item), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # after a torn line: that line stays unreadable, ours does not
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)

    def entries(self) -> list[tuple[bytes, Pending]]:
        """Every whole entry (with its line, to remove it once applied); no lock needed.

        Re-read only when the file changed since the last call (a send asks once a batch).
        """
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._cached = None, []
            return []
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key != self._seen:
            self._cached = list(_parse(self.path.read_bytes()))
            self._seen = key
        return self._cached

    def remove(self, lines: Iterable[bytes]) -> None:
        """Drop ``lines`` (applied to the database) from the file; keep everything else."""
        applied = set(lines)
        if not applied:
            return
        with self._locked() as fd:
            # no append is in flight (we hold the lock): a torn or unreadable line is debris
            kept = [line for line, _ in _parse(_read_all(fd)) if line not in applied]
            if not kept:
                os.ftruncate(fd, 0)  # nothing whole left: empty it in place
                os.fsync(fd)
                return
            spare = self.path.with_name(self.path.name + ".new")
            with open(os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                out.write(b"".join(kept))
                out.flush()
                os.fsync(out.fileno())
            os.replace(spare, self.path)
            _fsync_directory(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """The file, open for appending under its exclusive lock (the current file, not one a
        concurrent :meth:`remove` has just replaced)."""
        while True:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            if created:
                _fsync_directory(self.path.parent)  # the new file's name survives a power cut
            yield fd
        finally:
            os.close(fd)  # releases the lock


def _parse(data: bytes) -> Iterator[tuple[bytes, Pending]]:
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue  # torn by a crash mid-append
        try:
            fields = json.loads(line)
            yield (
                line,
                Pending(
                    str(fields["entry"]),
                    str(fields["reason"]),
                    str(fields["source"]),
                    float(fields["created_at"]),
                ),
            )
        except (ValueError, KeyError, TypeError):
            continue


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class NoQueue:
    """The queue of a store that never needs one (PostgreSQL locks rows, not the database):
    always empty."""

    path = None

    def entries(self) -> list[tuple[bytes, Pending]]:
        return []

    def remove(self, lines: Iterable[bytes]) -> None:
        pass
