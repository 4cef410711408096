"""Streaming CSV records: sniffed delimiter, BOM-tolerant UTF-8; the core checks the addresses."""

from __future__ import annotations

import csv
import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tierii_core.components import ContactSource
from tierii_core.contacts import UNREADABLE, find_email_column
from tierii_core.errors import SourceError
from tierii_core.models import Rejected, SourceRecord

DELIMITERS = ",;\t|"
BOM = b"\xef\xbb\xbf"
#: the read buffer, in which validate() finds the header without reading it twice
HEAD = 1 << 16


class _DecodedLines:
    """Decodes a binary file line by line for the csv module, remembering undecodable lines."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.number = 0
        self.bad: dict[int, str] = {}
        self.delimiter = ","  # set once the header is sniffed
        self.open_quote = False  # whether the lines so far end inside a quoted cell

    def __iter__(self) -> Iterator[str]:
        for data in self.raw:
            self.number += 1
            if self.number == 1 and data.startswith(BOM):
                data = data[len(BOM) :]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad[self.number] = (
                    f"not valid UTF-8 (byte {data[exc.start]:#04x} at column {exc.start + 1})"
                )
                text = data.decode("utf-8", errors="replace")
            self.open_quote = open_quote_after(text, self.open_quote, self.delimiter)
            yield text


def open_quote_after(line: str, open_quote: bool, delimiter: str) -> bool:
    """Whether a quoted cell is still open at the end of ``line``, given whether one was open
    at its start, by the csv module's rules: a quote opens a cell only at the cell's start,
    ``""`` inside one is a quote, any other quote is a character like the others."""
    if '"' not in line:
        return open_quote
    i, at_start = 0, not open_quote  # outside quotes, a line starts a row, so a cell
    while True:
        if open_quote:
            j = line.find('"', i)
            while j != -1 and line.startswith('""', j):
                j = line.find('"', j + 2)
            if j == -1:
                return True
            open_quote, at_start, i = False, False, j + 1
        elif at_start and line.startswith('"', i):
            open_quote, i = True, i + 1
        else:
            k = line.find(delimiter, i)
            if k == -1:
                return False
            at_start, i = True, k + 1


def _unreadable(exc: csv.Error) -> str:
    """The csv module's complaint about a row, in the user's terms."""
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a cell is larger than {csv.field_size_limit()} characters (128 KiB)"
    if "new-line character seen in unquoted field" in text:
        return "a carriage return inside a cell that is not quoted"
    return f"not readable as CSV: {text}"


def sniff_delimiter(header: str) -> str:
    """The candidate delimiter that splits the header line most; ',' for a single column."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


class CsvSource(ContactSource):
    """Contacts from a CSV file: a header row with an email column, one contact per row."""

    name = "csv"
    patterns = ("*.csv", "*.tsv")

    def __init__(self, location: str, settings: object) -> None:
        super().__init__(location, settings)
        self.path = Path(location)
        self.segment: Any = None
        self._opened: BinaryIO | None = None  # by validate(), for the first iteration
        self._reading: BinaryIO | None = None  # the file being (or last) read
        self._rows_read = 0  # rows read from it so far, for estimate_count()
        self._header_bytes = 0
        self._finished = False  # read to its end

    def narrow(self, segment: Any) -> None:
        """Rows outside a ``--where`` segment are skipped as they stream, before the repeated-address
        check: a contact outside the segment never makes a later row of theirs a repeat."""
        self.segment = segment

    def _open(self) -> BinaryIO:
        """The file, opened for reading: the one :meth:`validate` opened, the first time, so
        that a send reads the file once (a named pipe or a process substitution can only be)."""
        raw, self._opened = self._opened, None
        if raw is None:
            try:
                raw = self.path.open("rb", buffering=HEAD)
            except FileNotFoundError:
                raise SourceError(f"{self.path}: no such file") from None
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot open: {exc.strerror}") from None
        self._reading = raw
        return raw

    def estimate_count(self) -> int | None:
        """The records of the file, estimated from its size and the bytes per row read so far:
        never a second pass over the file (the progress bar fills the exact total in when the
        stream ends). Exact once the whole file has been read; None for a pipe, or before a row
        has been read."""
        raw, rows = self._reading, self._rows_read
        if raw is None or rows == 0:
            return None
        if raw.closed:
            return rows if self._finished else None
        try:
            status = os.fstat(raw.fileno())
            consumed = raw.tell()
        except (OSError, ValueError):
            return None
        body = consumed - self._header_bytes
        if not stat.S_ISREG(status.st_mode) or body <= 0:
            return None
        if consumed >= status.st_size:
            return rows
        return max(rows, round(rows * (status.st_size - self._header_bytes) / body))

    def __iter__(self) -> Iterator[SourceRecord | Rejected]:
        self._rows_read, self._finished = 0, False
        with self._open() as raw:
            lines = _DecodedLines(raw)
            line_iter = iter(lines)
            header_line = next(line_iter, None)
            if header_line is None or not header_line.strip():
                raise SourceError(f"{self.path}: empty file: a header row with an 'email' column is needed")
            if 1 in lines.bad:
                raise SourceError(f"{self.path}:1: header row {lines.bad[1]}")
            self._header_bytes = len(header_line.encode())
            delimiter = sniff_delimiter(header_line)
            columns = self._header(header_line, delimiter)
            self._email_column(columns)  # no email column: SourceError naming the header
            if self.segment is not None:
                self.segment.check_columns(columns, str(self.path))
            lines.delimiter, lines.open_quote = delimiter, False
            reader = csv.reader(line_iter, delimiter=delimiter)
            while True:
                first_line = lines.number + 1
                origin = f"{self.path}:{first_line}"
                try:
                    row = next(reader)
                except StopIteration:
                    self._finished = True
                    return
                except csv.Error as exc:
                    self._rows_read += 1
                    reason = _unreadable(exc)
                    if lines.open_quote:  # stopped inside a quoted cell: skip to its end
                        for _ in itertools.takewhile(lambda _: lines.open_quote, line_iter):
                            pass
                    lines.open_quote = False
                    yield Rejected(origin, reason, code=UNREADABLE)
                    continue
                self._rows_read += 1
                if lines.open_quote:  # the file ended inside a quoted cell
                    span = f"lines {first_line}-{lines.number}"
                    yield Rejected(
                        origin, f"a quoted cell is never closed: {span} were read as one row", code=UNREADABLE
                    )
                    return
                if not row or all(not cell.strip() for cell in row):
                    continue
                bad = next(
                    (lines.bad[n] for n in range(first_line, lines.number + 1) if n in lines.bad), None
                )
                if bad:
                    yield Rejected(origin, bad, code=UNREADABLE)
                    continue
                if len(row) > len(columns):
                    yield Rejected(
                        origin, f"{len(row)} fields where the header has {len(columns)}", code=UNREADABLE
                    )
                    continue
                # a short row lacks its last columns: the strict templates fail it if they use them
                fields = dict(zip(columns, row, strict=False))
                if self.segment is not None and not self.segment.holds(fields):
                    self.left_out += 1  # filtered while streaming, before the core sees a repeat
                    continue
                yield SourceRecord(fields, origin)

    def _header(self, header_line: str, delimiter: str) -> list[str]:
        try:
            header = next(csv.reader([header_line], delimiter=delimiter))
        except csv.Error as exc:
            raise SourceError(f"{self.path}:1: header row: {_unreadable(exc)}") from None
        return [name.strip() for name in header]

    def validate(self) -> None:
        """Read the header now, so that a file without an email column stops the run early.
        The file stays open for the first iteration, which reads it from the start: the
        header is looked at in the read buffer, never read twice."""
        raw = self._open()
        self._opened = raw
        try:
            self._check_header(raw)
        except SourceError:
            self._opened = None
            raw.close()
            raise

    def __del__(self) -> None:
        opened = getattr(self, "_opened", None)
        if opened is not None:  # validated, never read (a command that stopped before the run)
            opened.close()

    def _check_header(self, raw: BinaryIO) -> None:
        head = raw.peek(HEAD)[:HEAD]
        if b"\n" not in head and len(head) >= HEAD:
            return  # a header longer than the buffer: the first iteration checks it
        if b"\n" not in head and not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            return  # a pipe's first bytes, not yet the whole header: the iteration checks it
        first = head.split(b"\n", 1)[0]
        if first.startswith(BOM):
            first = first[len(BOM) :]
        try:
            header = first.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{self.path}:1: header row is not valid UTF-8") from None
        if not header.strip():
            raise SourceError(f"{self.path}: empty file: a header row with an 'email' column is needed")
        self._email_column(self._header(header, sniff_delimiter(header)))

    def _email_column(self, columns: list[str]) -> int:
        index = find_email_column(columns)
        if index is not None:
            return index
        shown = ", ".join(repr(c) for c in columns)
        raise SourceError(f"{self.path}:1: no 'email' column in the header (columns: {shown})")
