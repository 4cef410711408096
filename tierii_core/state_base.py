"""What both state stores (:mod:`tierii_core.state`, :mod:`tierii_core.state_postgres`) share:
a schema step, the PostgreSQL address, the refusal of a newer database."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from tierii_core.errors import ConfigurationError
from tierii_core.redact import mask_credentials


@frozen
class Migration:
    """One step of the schema: its changes (SQL statements, or objects with ``apply(db)`` such
    as :class:`tierii_core.state.AddColumn`) in order."""

    version: int
    why: str
    changes: tuple[Any, ...]

    def apply(self, db: Any) -> None:
        for change in self.changes:
            if isinstance(change, str):
                db.execute(change)
            else:
                change.apply(db)


@frozen(repr=False)
class StateURL:
    """Where a PostgreSQL state store is: ``postgresql://user:password@host:port/db?sslmode=...``.

    Its :func:`str` and :func:`repr` mask the password; only the driver sees :attr:`url`.
    """

    url: str

    def __str__(self) -> str:
        return mask_credentials(self.url)

    __repr__ = __str__


class NewerStateError(ConfigurationError):
    """The database was written by a newer TierII (exit 2; nothing in it is changed)."""


def newer_message(where: str, found: int, known: int) -> str:
    return (
        f"{where}: the state database is at version {found}, and this TierII knows versions up to "
        f"{known}: a newer TierII has upgraded it. Use that TierII or a later one with it "
        "(pip install --upgrade tierii-core); nothing in it was changed"
    )
