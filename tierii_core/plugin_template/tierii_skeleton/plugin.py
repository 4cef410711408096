"""The plugin module the entry point names: TierII calls the hooks marked ``@hookimpl``."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import ContactSource
from tierii_skeleton.source import SkeletonSource


@hookimpl
def tierii_contact_sources() -> list[type[ContactSource]]:
    return [SkeletonSource]
