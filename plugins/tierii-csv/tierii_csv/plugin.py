"""Registers the ``csv`` contact source."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import ContactSource


@hookimpl
def tierii_contact_sources() -> list[type[ContactSource]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_csv.source import CsvSource

    return [CsvSource]
