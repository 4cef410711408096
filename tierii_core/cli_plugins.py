"""``tierii plugins``: what is installed, and (later) the tools to make and manage plugins."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins: name, version, hooks and components."""
    from tierii_core.cli import _setup
    from tierii_core.plugins import Registry, plugin_rows

    pm = _setup()
    rows = plugin_rows(pm, Registry(pm))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "version", "hooks", "components")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        table.add_row(name, row["version"] or "", "\n".join(row["hooks"]), "\n".join(row["components"]))
    Console().print(table)


#: the commands this module adds to ``tierii``
COMMANDS = [plugins]
