"""Where the contacts are: a database URL, plus a table (``?table=`` or a setting) or a query.

``sqlite:///crm.db?table=contacts`` and ``postgresql://user:pw@host/crm?table=public.contacts``
name a table; ``TIERII_SQL_TABLE`` or ``TIERII_SQL_QUERY`` do it for a URL without
``?table=``. Every other query parameter goes to the database driver. Passwords never show:
:attr:`Target.shown` and every error message mask them.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tierii_core.errors import SourceError
from tierii_core.redact import mask_credentials

TABLE_PARAMETER = "table"
#: ``postgresql://`` means psycopg 3 here (SQLAlchemy's own default is psycopg2)
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg"}


def mask_url_text(text: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host`` wherever it occurs in ``text``
    (the core's one masking, so that every place shows a location the same way)."""
    return mask_credentials(text)


@frozen
class Target:
    """A parsed location: the URL for SQLAlchemy (our parameters removed) and what to read."""

    url: URL
    table: str | None = None
    schema: str | None = None
    query: str | None = None

    @property
    def shown(self) -> str:
        """The URL with its password (and a ``?password=`` option) masked."""
        return _shown(self.url)

    @property
    def what(self) -> str:
        """``table contacts``, ``table crm.contacts`` or ``query``: the start of every origin."""
        if self.table is None:
            return "query"
        return f"table {self.schema}.{self.table}" if self.schema else f"table {self.table}"

    def mask(self, text: str) -> str:
        """``text`` (an error message) with this URL's password masked."""
        text = mask_url_text(text)
        password = self.url.password
        if password and len(str(password)) >= 4:
            text = text.replace(str(password), "***")
        return text


def parse_location(location: str, *, table: str = "", query: str = "") -> Target:
    """Parse ``location``; ``table``/``query`` come from settings. Raises :class:`SourceError`."""
    try:
        url = make_url(location)
    except (ArgumentError, ValueError) as exc:
        raise SourceError(
            f"{mask_url_text(location)}: not a database URL ({mask_url_text(str(exc))})"
        ) from None
    in_url: Any = url.query.get(TABLE_PARAMETER)
    if isinstance(in_url, tuple):
        raise SourceError(f"{_shown(url)}: '?table=' is given {len(in_url)} times; name one table")
    url = url.difference_update_query([TABLE_PARAMETER])
    url = url.set(drivername=DEFAULT_DRIVERS.get(url.drivername, url.drivername))
    chosen = (in_url or table or "").strip()
    query = query.strip()
    if chosen and query:
        where = "?table= in the URL" if in_url else "TIERII_SQL_TABLE"
        raise SourceError(f"{_shown(url)}: both {where} and TIERII_SQL_QUERY are set; use one")
    if not chosen and not query:
        raise SourceError(
            f"{_shown(url)}: which contacts? Add ?table=NAME to the URL, or set TIERII_SQL_TABLE "
            "(a table) or TIERII_SQL_QUERY (a SELECT)"
        )
    if query:
        return Target(url, query=query)
    schema, _, name = chosen.rpartition(".")
    if not name or (chosen.count(".") and not schema):
        raise SourceError(f"{_shown(url)}: {chosen!r} is not a table name (NAME or SCHEMA.NAME)")
    return Target(url, table=name, schema=schema or None)


def _shown(url: URL) -> str:
    return mask_url_text(url.render_as_string(hide_password=True))
