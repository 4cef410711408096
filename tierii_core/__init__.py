"""TierII core: hookspecs, plugin manager, settings and the campaign loop.

A plugin is a module (or object) with functions marked by :data:`hookimpl`, made
known to TierII through an entry point in the ``tierii`` group::

    [project.entry-points.tierii]
    tierii-example = "tierii_example.plugin"

and, in ``tierii_example/plugin.py``::

    from tierii_core import hookimpl

    @hookimpl
    def tierii_delivery_providers():
        return [ExampleProvider]
"""

from __future__ import annotations

import pluggy

NAME = "tierii"
__version__ = "0.1.0"

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)

__all__ = ["NAME", "__version__", "hookimpl", "hookspec"]
