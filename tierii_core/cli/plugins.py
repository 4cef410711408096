"""Plugin tooling: ``tierii plugins [--json]``, ``tierii plugins new NAME``, ``tierii install`` and
``tierii uninstall`` (pip in the same interpreter, as llm does).

``install`` and ``uninstall`` never load plugins, so they work when an installed plugin is
broken: ``tierii uninstall tierii-broken -y`` is the way out.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from attrs import frozen

from tierii_core.errors import ConfigurationError

if TYPE_CHECKING:  # importlib.resources and subprocess load when used: `tierii --help` stays fast
    from importlib.abc import Traversable

#: the skeleton ``plugins new`` copies: package data of tierii-core (plugins/_template links to it)
TEMPLATE = "plugin_template"
#: the placeholder name inside the skeleton; ``plugins new NAME`` replaces every spelling of it
PLACEHOLDER = "skeleton"
_SKIPPED = re.compile(r"(^__pycache__$|\.pyc$|\.egg-info$|^\.pytest_cache$|^\.ruff_cache$)")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: name, version, hooks and components, and the broken ones.

    A broken plugin is listed with its error and the way out (its traceback too with
    TIERII_TRACE_PLUGINS=1); the listing itself succeeds (exit 0).
    """
    if ctx.invoked_subcommand is not None:
        return
    from tierii_core.cli.context import setup as _setup
    from tierii_core.plugins import Registry, plugin_rows, tracing

    pm = _setup(tolerant=True)
    rows = plugin_rows(pm, Registry(pm, tolerant=True), with_traceback=tracing())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif sys.stdout.isatty():
        _print_table([row for row in rows if not row["error"]])
    else:  # piped or redirected: nothing may be cut to fit a width
        for row in rows:
            if not row["error"]:
                click.echo(f"{_title(row)}\n  hooks: {', '.join(row['hooks'])}")
                click.echo(f"  components: {', '.join(row['components']) or '-'}")
    for row in rows:
        if row["error"]:
            click.echo(f"BROKEN {_title(row)}\n  " + row["error"].replace("\n", "\n  "), err=as_json)
            if row.get("traceback"):
                click.echo(row["traceback"].rstrip("\n"), err=as_json)
    broken = [row["name"] for row in rows if row["error"]]
    if broken and not as_json:
        hint = "" if tracing() else " (TIERII_TRACE_PLUGINS=1 shows the tracebacks)"
        click.echo(f"broken: {', '.join(broken)}{hint}")


def _title(row: dict) -> str:
    default = " (default)" if row["default"] else ""
    return f"{row['name']}{default} {row['version'] or ''} [{row['distribution']}]".replace(" []", "")


def _print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "version", "hooks", "components")
    for column in table.columns:
        column.overflow = "fold"  # wrap long hook names, never cut them
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        table.add_row(name, row["version"] or "", "\n".join(row["hooks"]), "\n".join(row["components"]))
    Console().print(table)


# -- plugins new -------------------------------------------------------------------------------


@frozen
class PluginNames:
    """Every spelling of a new plugin's name, derived from what the user typed."""

    component: str  # crm_tools: the component's name, TIERII_CRM_TOOLS_*
    distribution: str  # tierii-crm-tools
    package: str  # tierii_crm_tools
    camel: str  # CrmTools

    @classmethod
    def parse(cls, name: str) -> PluginNames:
        bare = re.sub(r"^tierii[-_]", "", name.strip().lower())
        if not _NAME.match(bare) or bare == "tierii":
            raise click.BadParameter(
                f"{name!r}: use lowercase letters and digits, words joined by '-' or '_' (e.g. crm, my-crm)",
                param_hint="NAME",
            )
        component = bare.replace("-", "_")
        return cls(
            component=component,
            distribution="tierii-" + component.replace("_", "-"),
            package="tierii_" + component,
            camel="".join(part.capitalize() for part in component.split("_")),
        )

    def replace(self, text: str) -> str:
        """The skeleton's text with the placeholder renamed (most specific spellings first)."""
        for old, new in (
            (f"tierii-{PLACEHOLDER}", self.distribution),
            (f"tierii_{PLACEHOLDER}", self.package),
            (PLACEHOLDER.upper(), self.component.upper()),
            (PLACEHOLDER.capitalize(), self.camel),
            (PLACEHOLDER, self.component),
        ):
            text = text.replace(old, new)
        return text


def template_root() -> Traversable:
    from importlib import resources

    return resources.files("tierii_core").joinpath(TEMPLATE)


def copy_template(source: Traversable, target: Path, names: PluginNames) -> list[Path]:
    """Copy the skeleton into ``target`` (which must not exist), renaming as it goes."""
    written = []
    target.mkdir(parents=True)
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if _SKIPPED.search(entry.name):
            continue
        destination = target / names.replace(entry.name)
        if entry.is_dir():
            written += copy_template(entry, destination, names)
        else:
            destination.write_text(names.replace(entry.read_text(encoding="utf-8")), encoding="utf-8")
            written.append(destination)
    return written


@plugins.command()
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where to create the plugin's folder (tierii-NAME).",
)
def new(name: str, directory: Path) -> None:
    """Create a new plugin, ready to install and test, in DIR/tierii-NAME.

    It registers a working example component (a contact source for JSON Lines files) with
    its contract tests: change it into yours.
    """
    names = PluginNames.parse(name)
    target = directory / names.distribution
    if target.exists():
        raise ConfigurationError(f"{target} already exists: choose another name or --dir")
    written = copy_template(template_root(), target, names)
    click.echo(
        f"created {target}/ ({len(written)} files): "
        f"distribution {names.distribution}, package {names.package}"
    )
    click.echo(f"component source:{names.component}, settings TIERII_{names.component.upper()}_*")
    click.echo("next:")
    click.echo(f"  cd {target}")
    click.echo("  tierii install -e '.[test]'")
    click.echo("  pytest")
    click.echo("  tierii plugins")


# -- install / uninstall -----------------------------------------------------------------------


def pip(*args: str) -> int:
    """Run pip in the interpreter tierii runs in, so plugins land where tierii finds them."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "pip", *args])


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, required=True, type=click.UNPROCESSED)
def install(args: tuple[str, ...]) -> None:
    """Install plugins with pip, into tierii's own environment.

    ARGS go to `pip install` as they are: tierii install tierii-csv,
    tierii install -e ./tierii-crm, tierii install -U tierii-smtp.
    """
    click.get_current_context().exit(pip("install", *args))


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall(args: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins with pip, from tierii's own environment.

    Works even when a plugin is broken: plugins are not loaded for this command.
    """
    click.get_current_context().exit(pip("uninstall", *(["-y"] if yes else []), *args))


#: the commands this module adds to ``tierii``
COMMANDS = [plugins, install, uninstall]
