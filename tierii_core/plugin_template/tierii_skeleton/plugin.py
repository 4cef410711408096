"""The plugin module the entry point names: TierII calls the hooks marked ``@hookimpl``."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import ContactSource


@hookimpl
def tierii_contact_sources() -> list[type[ContactSource]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_skeleton.source import SkeletonSource

    return [SkeletonSource]
