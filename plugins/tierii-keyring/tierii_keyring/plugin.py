"""Answers ``tierii_resolve_credentials`` from the keyring and adds ``tierii credentials``.

Every ``tierii`` invocation imports this: it imports neither keyring nor its backends.
"""

from __future__ import annotations

from typing import Any

from tierii_core import hookimpl
from tierii_core.models import Credentials


@hookimpl
def tierii_resolve_credentials(provider: str, settings: Any) -> Credentials | None:
    from tierii_keyring.resolve import credentials_for

    return credentials_for(provider, settings)


@hookimpl
def tierii_register_commands(cli: Any) -> None:
    from tierii_keyring.commands import credentials

    cli.add_command(credentials)
