"""The ``sql`` contact source: what the core registers, without importing SQLAlchemy.

SQLAlchemy takes ~0.15 s to import; every ``tierii`` command loads the installed plugins, so
the database code (:mod:`tierii_sql.reader`) is imported only when a database is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from attrs import field, frozen

from tierii_core.components import ContactSource
from tierii_core.models import Contact, Rejected


@frozen
class SqlSettings:
    table: str = field(
        default="",
        metadata={"help": "Table to read when the URL has no ?table=.", "form": "NAME or SCHEMA.NAME"},
    )
    query: str = field(
        default="",
        metadata={
            "help": "A SELECT whose rows are the contacts, instead of a table.",
            "form": "a SELECT statement",
        },
    )
    fetch_size: int = field(
        default=1000,
        validator=attrs.validators.ge(1),
        metadata={
            "help": "Rows fetched per round trip of the server-side cursor.",
            "form": "a whole number >= 1",
        },
    )


class SqlSource(ContactSource):
    """Contacts from a database table or query (SQLAlchemy: SQLite, PostgreSQL)."""

    name = "sql"
    patterns = ("sqlite:*", "sqlite+*:*", "postgresql:*", "postgresql+*:*")
    Settings = SqlSettings

    def __init__(self, location: str, settings: SqlSettings) -> None:
        from tierii_sql.reader import SqlReader

        super().__init__(location, settings)
        self.reader = SqlReader(location, settings)

    def validate(self) -> None:
        self.reader.validate()

    def estimate_count(self) -> int | None:
        return self.reader.estimate_count()

    def narrow(self, segment: Any) -> None:
        """Push the segment's simple text comparisons into the query (tierii_sql.narrowing)."""
        self.reader.segment = segment

    @property
    def left_out(self) -> int:  # type: ignore[override]
        return self.reader.left_out

    def __iter__(self) -> Iterator[Contact | Rejected]:
        return iter(self.reader)
