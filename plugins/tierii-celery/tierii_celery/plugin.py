"""tierii-celery's hooks: its settings, ``tierii worker``, and ``--executor``/``--detach`` on
``tierii send``. Nothing here imports Celery: ``tierii --help`` stays light."""

from __future__ import annotations

from typing import Any

from tierii_celery.settings import CelerySettings, ExecutorSettings
from tierii_core import hookimpl


@hookimpl
def tierii_plugin_settings() -> list[tuple[str, type]]:
    return [("celery", CelerySettings), ("", ExecutorSettings)]


@hookimpl
def tierii_register_commands(cli: Any) -> None:
    from tierii_celery.commands import add_executor_options, worker

    cli.add_command(worker)
    add_executor_options(cli)
