"""Deprecated: what the commands share is in :mod:`tierii_core.cli.context` (cli is a package).

Kept so that a plugin written against the old module keeps working; it warns once on import.
"""

from __future__ import annotations

import warnings

from tierii_core.cli.context import current_plugin_manager, settings_reader, setup, use_plugin_manager

__all__ = ["current_plugin_manager", "settings_reader", "setup", "use_plugin_manager"]

warnings.warn(
    "tierii_core.cli_setup is deprecated: import from tierii_core.cli.context",
    DeprecationWarning,
    stacklevel=2,
)
