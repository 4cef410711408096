"""Registers the ``ses`` delivery provider and the ``tierii ses`` commands.

Importing this never imports boto3 (a few hundred milliseconds), nor the web stack: every
``tierii`` invocation loads it.
"""

from __future__ import annotations

from typing import Any

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_ses.provider import SesProvider

    return [SesProvider]


@hookimpl
def tierii_register_commands(cli: Any) -> None:
    from tierii_ses.commands import ses

    cli.add_command(ses)
