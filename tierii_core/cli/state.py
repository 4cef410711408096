"""``tierii state``: the state database's version, its tables, and upgrading it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tierii_core.settings import CoreSettings


def _state_dir() -> Any:
    """TIERII_STATE_URL when set, else TIERII_STATE_DIR."""
    from tierii_core.cli.context import settings_reader
    from tierii_core.state import state_location

    return state_location(settings_reader().load(CoreSettings))


@click.group()
def state() -> None:
    """The state database (TIERII_STATE_URL, else TIERII_STATE_DIR): the journal, the
    suppression list, feedback, campaigns. SQLite by default; PostgreSQL to share it."""


@state.command("upgrade")
def state_upgrade() -> None:
    """Bring the state database to this TierII's version (every send does it too).

    The steps run in one transaction: a failure leaves the database as it was.
    """
    from tierii_core.state import VERSION, open_state

    store = open_state(_state_dir())
    try:
        if not store.applied:
            click.echo(f"{store.where}: at version {VERSION}, this TierII's: nothing to do")
            return
        if store.created:
            click.echo(f"{store.where}: created at version {VERSION}")
            return
        before = store.applied[0].version - 1
        click.echo(f"{store.where}: version {before} -> {VERSION}")
        for step in store.applied:
            click.echo(f"  {step.version}: {step.why}")
    finally:
        store.close()


@state.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def state_info(as_json: bool) -> None:
    """Where the state database is, its version, and the rows in each table (changes nothing)."""
    from tierii_core.pending import NoQueue, PendingSuppressions
    from tierii_core.state import VERSION, open_state

    directory = _state_dir()
    queue = PendingSuppressions(directory) if isinstance(directory, Path) else NoQueue()
    store = open_state(directory, read_only=True)
    try:
        report: dict[str, Any] = {
            "path": store.where,
            "exists": store.exists,
            "version": store.version if store.exists else None,
            "tierii_version": VERSION,
            "tables": store.counts() if store.exists else {},
            "store": "sqlite" if isinstance(directory, Path) else "postgresql",
            "pending_suppressions": len(queue.entries()),
        }
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"state database: {report['path']}")
    if not store.exists:
        click.echo("  none yet: the first send (or `tierii state upgrade`) creates it")
    else:
        version = report["version"]
        note = "this TierII's"
        if version < VERSION:
            note = f"older: `tierii state upgrade` brings it to {VERSION}"
        click.echo(f"  version: {version} ({note})")
        for table, count in report["tables"].items():
            click.echo(f"  {table}: {count}")
    if report["pending_suppressions"]:
        click.echo(f"  suppressions queued while it was locked: {report['pending_suppressions']}")


COMMANDS = [state]
