"""Registers the ``tierii feedback`` commands and the plugin's settings.

Importing this imports neither flufl.bounce nor IMAPClient: every ``tierii`` invocation runs it.
"""

from __future__ import annotations

from typing import Any

from tierii_core import hookimpl


@hookimpl
def tierii_plugin_settings() -> list[tuple[str, type]]:
    from tierii_feedback.settings import FeedbackSettings, ImapSettings

    return [("feedback", FeedbackSettings), ("imap", ImapSettings)]


@hookimpl
def tierii_register_commands(cli: Any) -> None:
    from tierii_feedback.commands import feedback

    cli.add_command(feedback)
