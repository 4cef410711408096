"""One database row -> one SourceRecord (or Rejected): values as text; the core checks the address."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tierii_core.contacts import UNREADABLE
from tierii_core.models import Rejected, SourceRecord


class BadValue(ValueError):
    """A column value that cannot be a template variable."""


def as_text(value: Any, column: str) -> str | None:
    """A column value as the text a template shows; NULL stays None (a missing variable)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadValue(
                f"column {column!r} holds bytes that are not UTF-8 text (byte {exc.start + 1})"
            ) from None
    return str(value)


def to_record(values: Sequence[Any], columns: Sequence[str], origin: str) -> SourceRecord | Rejected:
    """One row's values as template variables; the core checks the address, as for every source."""
    try:
        fields = {column: as_text(value, column) for column, value in zip(columns, values, strict=True)}
    except BadValue as exc:
        return Rejected(origin, str(exc), code=UNREADABLE)
    return SourceRecord(fields, origin)
