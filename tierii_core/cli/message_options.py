"""The options ``tierii preview`` and ``tierii send`` share: what the messages are made of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def message_options(func: Any) -> Any:
    options = [
        click.argument("contacts"),
        click.option(
            "-t",
            "--template",
            type=click.Path(path_type=Path),
            required=True,
            help="Template file (headers, blank line, text body).",
        ),
        click.option("--html", type=click.Path(path_type=Path), help="HTML alternative template."),
        click.option("--subject", help="Subject (overrides the template's Subject:)."),
        click.option("--from", "sender", help="Sender 'Name <addr>' (overrides the template's From:)."),
        click.option("--rules", help="Compliance rule packs to check too, PACK[,PACK...] (TIERII_RULES)."),
        click.option(
            "--transactional", is_flag=True, default=None, help="Transactional mail: marketing rules off."
        ),
        click.option(
            "--where",
            multiple=True,
            help='Only contacts for which EXPR holds, e.g. \'state in ("CA","NV")\' (repeatable: all hold).',
        ),
        click.option("--log-json", is_flag=True, default=None, help="Log events as JSON lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
