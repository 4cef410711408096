"""Calling the observer hooks so that one broken observer never stops a run."""

from __future__ import annotations

from typing import Any

import pluggy

from tierii_core.logs import get_logger
from tierii_core.plugins import each_implementation

log = get_logger()


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call every implementation of an observer hook; log, and otherwise ignore, failures.

    pluggy stops a hook call at the first exception; observers are independent, so each
    implementation is called on its own.
    """
    for plugin_name, call in each_implementation(pm, hook_name):
        try:
            call(**kwargs)
        except Exception as exc:  # an observer must never break delivery
            log.warning(
                "observer.failed", plugin=plugin_name, hook=hook_name, error=f"{type(exc).__name__}: {exc}"
            )
