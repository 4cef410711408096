"""Calling the observer hooks so that one broken observer never stops a run."""

from __future__ import annotations

from typing import Any

import pluggy
import structlog

log = structlog.get_logger()


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call every implementation of an observer hook; log, and otherwise ignore, failures.

    pluggy stops a hook call at the first exception; observers are independent, so each
    implementation is called on its own (with just the arguments it asks for).
    """
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:  # an observer must never break delivery
            log.warning("observer.failed", plugin=impl.plugin_name, hook=hook_name, error=f"{type(exc).__name__}: {exc}")
