"""Registers the ``mailersend`` delivery provider and the ``tierii mailersend`` commands.

Importing this never imports the SDK, and the commands hook never imports the web stack
(starlette, uvicorn): every ``tierii`` invocation runs both.
"""

from __future__ import annotations

from typing import Any

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_mailersend.provider import MailerSendProvider

    return [MailerSendProvider]


@hookimpl
def tierii_register_commands(cli: Any) -> None:
    from tierii_mailersend.commands import mailersend

    cli.add_command(mailersend)
