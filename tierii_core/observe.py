"""Calling the observer hooks so that one broken observer never stops a run.

Failures are logged as they happen and remembered per run, so that the human summary at the
end of the run names the observers that failed (a log line scrolls by; the summary stays).
"""

from __future__ import annotations

import threading
from typing import Any

import pluggy

from tierii_core.logs import get_logger
from tierii_core.plugins import each_implementation

log = get_logger()

_lock = threading.Lock()
#: run -> (plugin, hook) -> [first error, how many times]
_failures: dict[Any, dict[tuple[str, str], list[Any]]] = {}


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call every implementation of an observer hook; log, and otherwise ignore, failures.

    pluggy stops a hook call at the first exception; observers are independent, so each
    implementation is called on its own.
    """
    for plugin_name, call in each_implementation(pm, hook_name):
        try:
            call(**kwargs)
        except Exception as exc:  # an observer must never break delivery
            error = f"{type(exc).__name__}: {exc}"
            log.warning("observer.failed", plugin=plugin_name, hook=hook_name, error=error)
            with _lock:
                seen = _failures.setdefault(kwargs.get("run"), {}).setdefault(
                    (plugin_name, hook_name), [error, 0]
                )
                seen[1] += 1


def failed_observers(run: Any) -> list[str]:
    """One line per observer that raised during ``run`` (and forget them): plugin, hook, error."""
    with _lock:
        failures = _failures.pop(run, {})
    return [
        f"plugin '{plugin}' in {hook}: {error}" + (f" ({count} times)" if count > 1 else "")
        for (plugin, hook), (error, count) in failures.items()
    ]
