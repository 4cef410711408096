"""What every ``tierii`` command shares: the settings reader, and the plugin manager that
:func:`tierii_core.cli.main` builds before parsing (so that plugins can add commands).

A module of its own so that the command modules (``check``, ``send``, ``plugins``...) import
it, never each other nor the package.
"""

from __future__ import annotations

from typing import Any

from tierii_core.settings import SettingsReader

_plugin_manager: Any = None


def settings_reader(overrides: dict[str, Any] | None = None) -> SettingsReader:
    """Settings for this command: its options, the environment, then --env-file or ./.env."""
    return SettingsReader(overrides)


def use_plugin_manager(pm: Any) -> None:
    """The manager ``main()`` built (None when building it failed: the command says why)."""
    global _plugin_manager
    _plugin_manager = pm


def current_plugin_manager() -> Any:
    return _plugin_manager


def setup(log_json: bool | None = None, *, tolerant: bool = False) -> Any:
    """The plugin manager; raises naming any broken plugin unless ``tolerant`` (``plugins``)."""
    from tierii_core.logs import configure_logging
    from tierii_core.plugins import make_plugin_manager

    configure_logging(json=log_json)
    pm = _plugin_manager or make_plugin_manager(tolerant=True)
    if not tolerant:
        pm.raise_if_broken()
    return pm
