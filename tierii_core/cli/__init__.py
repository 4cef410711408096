"""The ``tierii`` command. Exit codes: 0 done, 1 some failed, 2 usage/configuration, 3 stopped.

One module per command family (``check``, ``preview``, ``send``, ``status``, ``plugins``,
``suppressions``, ``unsubscribe``, ``campaigns``, ``state``), each with its ``COMMANDS``; the
group is in ``root``, what they share in ``context``. They import ``context``, never each other
nor this package; each imports the heavy modules it needs inside its functions, so that
``tierii --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tierii_core.cli import campaigns, check, plugins, preview, send, state, status, suppressions, unsubscribe
from tierii_core.cli.context import use_plugin_manager
from tierii_core.cli.root import cli
from tierii_core.errors import TierIIError
from tierii_core.settings import use_settings_file

__all__ = ["cli", "main"]

for _family in (check, preview, send, status, plugins, suppressions, unsubscribe, campaigns, state):
    for _command in _family.COMMANDS:
        cli.add_command(_command)


def _settings_file_in(args: list[str]) -> Path | None:
    """The ``--env-file`` given before the command (or ``TIERII_ENV_FILE``).

    main() loads plugins before click parses the arguments, and the plugin variables
    (``TIERII_DISABLE_PLUGINS``...) may be set in that file.
    """
    for index, arg in enumerate(args):
        if arg == "--env-file" and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--env-file="):
            return Path(arg.split("=", 1)[1])
        if not arg.startswith("-"):  # the command: its own options are not ours
            break
    value = os.environ.get("TIERII_ENV_FILE")
    return Path(value) if value else None


def main() -> None:
    """The ``tierii`` command: plugins may add commands before the arguments are parsed.

    A broken plugin (import, hooks, or its commands) is left out here, so that ``--help``,
    ``plugins`` and ``uninstall`` work; the commands that need plugins name it and exit 2.
    """
    from tierii_core.plugins import make_plugin_manager, register_commands

    settings_file = _settings_file_in(sys.argv[1:])
    if settings_file is not None and settings_file.is_file():
        use_settings_file(settings_file)  # click checks the option itself, with its message
    try:
        pm = make_plugin_manager(tolerant=True)
    except TierIIError:
        use_plugin_manager(None)  # the command reports the problem
    else:
        use_plugin_manager(pm)
        register_commands(pm, cli)
    cli(prog_name="tierii")
