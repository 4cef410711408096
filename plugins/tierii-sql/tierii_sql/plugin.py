"""Registers the ``sql`` contact source."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import ContactSource
from tierii_sql.source import SqlSource


@hookimpl
def tierii_contact_sources() -> list[type[ContactSource]]:
    return [SqlSource]
