"""The ``tierii`` group itself: its options, and how it turns TierII errors into exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tierii_core import __version__
from tierii_core.cli.context import current_plugin_manager
from tierii_core.errors import TierIIError
from tierii_core.settings import use_settings_file


class TierIIGroup(click.Group):
    """Turns TierII errors into a one-line message and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TierIIError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(int(exc.exit_code))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            broken = sorted(getattr(current_plugin_manager(), "broken", None) or ())
            if broken and args and not args[0].startswith("-"):  # a broken plugin's command?
                names = ", ".join(broken)
                exc.message += f"\n(broken plugins may have added it: {names}; `tierii plugins` says why)"
            raise


@click.group(cls=TierIIGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tierii")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    envvar="TIERII_ENV_FILE",
    help="Read settings from this file instead of ./.env (TIERII_ENV_FILE).",
)
def cli(env_file: Path | None) -> None:
    """Send personalised, compliant email campaigns.

    \b
    Exit codes: 0 all done; 1 some recipients failed; 2 usage or configuration
    error, nothing sent; 3 run stopped early (provider down, interrupted): re-run.
    """
    use_settings_file(env_file)
