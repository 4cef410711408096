"""``tierii suppress`` and ``tierii unsubscribe``: the suppression list and its web endpoint."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from tierii_core.errors import ConfigurationError
from tierii_core.settings import CoreSettings


def _suppressions(read_only: bool = False):
    from tierii_core.cli.context import settings_reader
    from tierii_core.state import state_location
    from tierii_core.suppression import SuppressionList

    core = settings_reader().load(CoreSettings)
    return SuppressionList(state_location(core), read_only=read_only)


def _checked(entries: list[str]) -> list[str]:
    from tierii_core.suppression import normalise

    for entry in entries:
        try:
            normalise(entry)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    return entries


@click.group()
def suppress() -> None:
    """The suppression list: addresses and @domains that never get mail, through any provider."""


@suppress.command("add")
@click.argument("entries", nargs=-1, required=True)
@click.option("--reason", default="", help="Why (kept with each entry).")
def suppress_add(entries: tuple[str, ...], reason: str) -> None:
    """Suppress addresses or whole @domains."""
    suppressions = _suppressions()
    added = suppressions.add(_checked(list(entries)), reason, "manual")
    click.echo(
        f"suppressed {added} new, {len(entries) - added} already there ({suppressions.count()} in all)"
    )


@suppress.command("remove")
@click.argument("entries", nargs=-1, required=True)
def suppress_remove(entries: tuple[str, ...]) -> None:
    """Remove addresses or @domains from the list."""
    suppressions = _suppressions()
    removed = suppressions.remove(_checked(list(entries)))
    click.echo(f"removed {removed} ({suppressions.count()} left)")


@suppress.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def suppress_list(as_json: bool) -> None:
    """Show the list."""
    rows = [
        {"entry": s.entry, "reason": s.reason, "source": s.source, "added": _when(s.created_at)}
        for s in _suppressions(read_only=True)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['entry']}\t{row['source']}\t{row['added']}\t{row['reason']}".rstrip())


@suppress.command("import")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--reason", default="imported", help="Why (kept with each entry).")
def suppress_import(path: str, reason: str) -> None:
    """Add the entries of FILE: one per line (# comments), or a CSV with an email/entry column.

    All or nothing: one transaction, so an import that fails or is killed adds nothing.
    """
    suppressions = _suppressions()
    read = [0]
    with _opened(path, "rb") as file:
        entries = _checked_lines(_entries(_utf8_lines(file, file.name), file.name), file.name, read)
        added = suppressions.add(entries, reason, f"import:{Path(file.name).name}")
    click.echo(f"imported {read[0]} entries from {file.name}: {added} new ({suppressions.count()} in all)")


@suppress.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="File (default stdout).",
)
def suppress_export(output: str) -> None:
    """Write the list as CSV (entry, reason, source, added)."""
    suppressions = _suppressions(read_only=True)
    with _opened(output, "w", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["entry", "reason", "source", "added"])
        for s in suppressions:
            writer.writerow([s.entry, s.reason, s.source, _when(s.created_at)])


@contextlib.contextmanager
def _opened(path: str, mode: str, encoding: str | None = None) -> Iterator[Any]:
    """``path`` (``-`` for stdin/stdout) opened, or a message naming it (exit 2)."""
    try:
        file = click.open_file(path, mode, encoding=encoding)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot open it: {exc.strerror}") from None
    with file:
        yield file


def _utf8_lines(file, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (a byte-order mark allowed), streamed."""
    for number, data in enumerate(file, start=1):
        if number == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            yield number, data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(
                f"{name}:{number}: not valid UTF-8 (byte {data[exc.start]:#04x} at column "
                f"{exc.start + 1}); save the file as UTF-8; nothing was imported"
            ) from None


def _entries(lines: Iterator[tuple[int, str]], name: str) -> Iterator[tuple[int, str]]:
    """(line number, entry): the email/entry column of a CSV, or one entry per line."""
    first = next(lines, None)
    if first is None:
        return
    header = [c.strip().lower() for c in next(csv.reader([first[1]]), [])]
    column = next((i for i, name in enumerate(header) if name in ("email", "entry")), None)
    if column is not None:
        current = [first[0]]

        def texts() -> Iterator[str]:
            for number, text in lines:
                current[0] = number
                yield text

        reader = csv.reader(texts())
        while True:
            start = current[0] + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ConfigurationError(
                    f"{name}:{start}: not readable as CSV: {exc}; nothing was imported"
                ) from None
            if len(row) > column and row[column].strip():
                yield start, row[column].strip()
        return
    for number, line in itertools.chain([first], lines):
        text = line.split("#", 1)[0].strip()
        if text:
            yield number, text


def _checked_lines(entries: Iterator[tuple[int, str]], name: str, read: list[int]) -> Iterator[str]:
    """The entries, each checked as it streams by; counts them in ``read[0]``."""
    from tierii_core.suppression import normalise

    for number, entry in entries:
        try:
            normalise(entry)
        except ValueError as exc:
            raise ConfigurationError(f"{name}:{number}: {exc}; nothing was imported") from None
        read[0] += 1
        yield entry


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


#: the commands this module adds to ``tierii``
COMMANDS = [suppress]
