"""Streaming CSV contacts: sniffed delimiter, BOM-tolerant UTF-8, validated addresses."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tierii_core.components import ContactSource
from tierii_core.contacts import find_email_column, to_contact
from tierii_core.dedupe import SeenAddresses
from tierii_core.errors import SourceError
from tierii_core.models import Contact, Rejected

DELIMITERS = ",;\t|"
BOM = b"\xef\xbb\xbf"


class _DecodedLines:
    """Decodes a binary file line by line for the csv module, remembering undecodable lines."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.number = 0
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for data in self.raw:
            self.number += 1
            if self.number == 1 and data.startswith(BOM):
                data = data[len(BOM) :]
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad[self.number] = (
                    f"not valid UTF-8 (byte {data[exc.start]:#04x} at column {exc.start + 1})"
                )
                yield data.decode("utf-8", errors="replace")


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

    def narrow(self, segment: Any) -> None:
        """Rows outside a ``--where`` segment are skipped as they stream, before the repeated-address
        check: a contact outside the segment never makes a later row of theirs a repeat."""
        self.segment = segment

    def _open(self) -> BinaryIO:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise SourceError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot open: {exc.strerror}") from None

    def estimate_count(self) -> int | None:
        """Physical lines minus the header: exact unless fields hold newlines or rows are blank."""
        with self._open() as raw:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
            raw.seek(max(raw.tell() - 1, 0))
            if raw.tell() and raw.read(1) != b"\n":
                lines += 1
        return max(lines - 1, 0)

    def __iter__(self) -> Iterator[Contact | Rejected]:
        with self._open() as raw, SeenAddresses() as seen:
            lines = _DecodedLines(raw)
            line_iter = iter(lines)
            header_line = next(line_iter, None)
            if header_line is None or not header_line.strip():
                raise SourceError(f"{self.path}: empty file: a header row with an 'email' column is needed")
            if 1 in lines.bad:
                raise SourceError(f"{self.path}:1: header row {lines.bad[1]}")
            delimiter = sniff_delimiter(header_line)
            header = next(csv.reader([header_line], delimiter=delimiter))
            columns = [name.strip() for name in header]
            email_index = self._email_column(columns)
            if self.segment is not None:
                self.segment.check_columns(columns, str(self.path))
            reader = csv.reader(itertools.chain([header_line], line_iter), delimiter=delimiter)
            next(reader)  # the header again: keeps reader.line_num in step with the file
            previous_line = 1
            for row in reader:
                first_line, previous_line = previous_line + 1, reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                origin = f"{self.path}:{first_line}"
                bad = next(
                    (lines.bad[n] for n in range(first_line, reader.line_num + 1) if n in lines.bad), None
                )
                if bad:
                    yield Rejected(origin, bad)
                    continue
                if len(row) > len(columns):
                    yield Rejected(origin, f"{len(row)} fields where the header has {len(columns)}")
                    continue
                if self.segment is not None and not self.segment.holds(dict(zip(columns, row, strict=False))):
                    self.left_out += 1
                    continue
                yield self._contact(row, columns, email_index, origin, seen)

    def validate(self) -> None:
        """Read the header now, so that a file without an email column stops the run early."""
        with self._open() as raw:
            first = raw.readline()
        if first.startswith(BOM):
            first = first[len(BOM) :]
        try:
            header = first.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{self.path}:1: header row is not valid UTF-8") from None
        if not header.strip():
            raise SourceError(f"{self.path}: empty file: a header row with an 'email' column is needed")
        columns = next(csv.reader([header], delimiter=sniff_delimiter(header)))
        self._email_column([c.strip() for c in columns])

    def _email_column(self, columns: list[str]) -> int:
        index = find_email_column(columns)
        if index is not None:
            return index
        shown = ", ".join(repr(c) for c in columns)
        raise SourceError(f"{self.path}:1: no 'email' column in the header (columns: {shown})")

    @staticmethod
    def _contact(
        row: list[str], columns: list[str], email_index: int, origin: str, seen: SeenAddresses
    ) -> Contact | Rejected:
        # a short row lacks its last columns: the strict templates fail it if they use them
        fields = dict(zip(columns, row, strict=False))
        return to_contact(fields, columns[email_index], origin, seen)
