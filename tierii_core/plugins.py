"""The plugin manager: hookspecs, default plugins, entry points, and the component registry.

Nothing here runs at import time: the CLI calls :func:`make_plugin_manager` once per command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib import import_module, metadata
from typing import Any

import pluggy
from attrs import frozen

from tierii_core import NAME, hookspecs
from tierii_core.components import KINDS, Component
from tierii_core.errors import PluginError

ENTRY_POINT_GROUP = "tierii"

#: the plugins every run has; registered before entry points, so third parties override them
DEFAULT_PLUGINS = (
    "tierii_core.default_plugins.mustache",
    "tierii_core.default_plugins.outbox",
    "tierii_core.default_plugins.credentials",
    "tierii_core.default_plugins.observers",
    "tierii_core.default_plugins.authentication",  # before compliance: its rules are listed after
    "tierii_core.default_plugins.compliance",
)

#: registration hook for each component kind
REGISTRATION_HOOKS = {
    "source": "tierii_contact_sources",
    "engine": "tierii_template_engines",
    "provider": "tierii_delivery_providers",
    "rule": "tierii_compliance_rules",
}

ESCAPE_HATCH = (
    "To run without it, set TIERII_DISABLE_PLUGINS={name} (or TIERII_LOAD_PLUGINS='' to load "
    "no installed plugin), then fix or uninstall it: pip uninstall {dist}"
)


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


@frozen
class PluginSource:
    """The entry point and distribution a plugin was loaded from."""

    entry_point: str
    target: str
    distribution: str
    version: str | None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which entry point and distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__(NAME)
        self.sources: dict[str, PluginSource] = {}


def make_plugin_manager(*, load_entry_points: bool = True) -> PluginManager:
    """A plugin manager with the specs, the default plugins and the installed plugins.

    ``TIERII_LOAD_PLUGINS`` (comma list, '' for none) limits which entry points load;
    ``TIERII_DISABLE_PLUGINS`` blocks plugins by name, default ones included;
    ``TIERII_TRACE_PLUGINS=1`` prints every hook call to stderr.
    Raises :class:`PluginError` naming the entry point when a plugin is broken.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for blocked in _names("TIERII_DISABLE_PLUGINS") or ():
        pm.set_blocked(blocked)
    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if not pm.is_blocked(short):
            pm.register(import_module(module_name), name=short)
    if load_entry_points:
        for ep in _selected_entry_points():
            _load_entry_point(pm, ep)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(_describe_failure(pm, exc.plugin, exc)) from exc
    if os.environ.get("TIERII_TRACE_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}:
        pm.trace.root.setwriter(lambda message: sys.stderr.write(message))
        pm.enable_tracing()
    return pm


def _selected_entry_points() -> Iterator[metadata.EntryPoint]:
    wanted = _names("TIERII_LOAD_PLUGINS")
    seen: set[str] = set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        if wanted is None or ep.name in wanted:
            yield ep


def _load_entry_point(pm: PluginManager, ep: metadata.EntryPoint) -> None:
    if pm.is_blocked(ep.name):
        return
    dist = ep.dist.name if ep.dist else ep.name
    try:
        plugin = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        raise PluginError(
            f"plugin '{ep.name}' (entry point {ep.name} = {ep.value}, from {dist}) failed to import: "
            f"{type(exc).__name__}: {exc}\n" + ESCAPE_HATCH.format(name=ep.name, dist=dist)
        ) from exc
    try:
        pm.register(plugin, name=ep.name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin '{ep.name}' (entry point {ep.name} = {ep.value}, from {dist}) is invalid: {exc}\n"
            + ESCAPE_HATCH.format(name=ep.name, dist=dist)
        ) from exc
    pm.sources[ep.name] = PluginSource(ep.name, ep.value, dist, ep.dist.version if ep.dist else None)


def _describe_failure(pm: PluginManager, plugin: object, exc: Exception) -> str:
    name = pm.get_name(plugin) or repr(plugin)
    source = pm.sources.get(name)
    where = f" (entry point {name} = {source.target}, from {source.distribution})" if source else ""
    dist = source.distribution if source else name
    return f"plugin '{name}'{where} is invalid: {exc}\n" + ESCAPE_HATCH.format(name=name, dist=dist)


def each_implementation(pm: pluggy.PluginManager, hook_name: str) -> Iterator[tuple[str, Any]]:
    """(plugin name, caller) for each implementation of a hook, in call order.

    Calling implementations one by one tells which plugin returned what (for clash messages)
    and isolates failures (for observers); going through ``subset_hook_caller`` keeps
    ``TIERII_TRACE_PLUGINS`` tracing every call.
    """
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    plugins = [impl.plugin for impl in impls]
    for impl in reversed(impls):
        others = [p for p in plugins if p is not impl.plugin]
        yield impl.plugin_name, pm.subset_hook_caller(hook_name, remove_plugins=others)


@frozen
class ComponentInfo:
    kind: str
    name: str
    cls: type[Component]
    plugin: str


class Registry:
    """All components the plugins registered, by kind and name; refuses duplicate names."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._by_kind: dict[str, dict[str, ComponentInfo]] = {kind: {} for kind in KINDS}
        for kind, hook_name in REGISTRATION_HOOKS.items():
            for plugin_name, call in each_implementation(pm, hook_name):
                for registered in call():  # one list per implementation: here, one
                    for cls in registered or ():
                        self._add(kind, cls, plugin_name)

    def _add(self, kind: str, cls: type[Component], plugin: str) -> None:
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"plugin '{plugin}' registered {cls!r} as a {kind}, but it is not a {base.__name__} subclass"
            )
        name = getattr(cls, "name", None)
        if not name:
            raise PluginError(f"plugin '{plugin}' registered {cls.__name__} without a 'name'")
        existing = self._by_kind[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"two plugins register a {kind} named '{name}': '{existing.plugin}' "
                f"({existing.cls.__module__}.{existing.cls.__name__}) and '{plugin}' "
                f"({cls.__module__}.{cls.__name__}). Disable one with TIERII_DISABLE_PLUGINS."
            )
        self._by_kind[kind][name] = ComponentInfo(kind, name, cls, plugin)

    def components(self, kind: str | None = None) -> Iterator[ComponentInfo]:
        kinds = [kind] if kind else list(self._by_kind)
        for k in kinds:
            yield from self._by_kind[k].values()

    def get(self, kind: str, name: str) -> type[Any]:
        try:
            return self._by_kind[kind][name].cls
        except KeyError:
            known = ", ".join(sorted(self._by_kind[kind])) or "none"
            raise PluginError(f"no {kind} named '{name}' is installed (installed: {known})") from None

    def claiming(self, kind: str, location: str) -> type[Any]:
        """The component of ``kind`` whose patterns claim ``location``; last registered wins."""
        for info in reversed(list(self._by_kind[kind].values())):
            if info.cls.claims(location):
                return info.cls
        patterns = sorted({p for i in self._by_kind[kind].values() for p in i.cls.patterns})
        raise PluginError(
            f"no installed {kind} handles '{location}' (handled: {', '.join(patterns) or 'none'}); "
            "install the plugin for it, e.g. pip install tierii-csv"
        )


def plugin_rows(pm: PluginManager, registry: Registry) -> list[dict[str, Any]]:
    """What ``tierii plugins`` shows: each plugin's name, version, hooks and components."""
    from tierii_core import __version__

    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        source = pm.sources.get(name)
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        rows.append(
            {
                "name": name,
                "version": source.version if source else __version__,
                "distribution": source.distribution if source else "tierii-core",
                "default": source is None,
                "hooks": hooks,
                "components": sorted(
                    f"{info.kind}:{info.name}" for info in registry.components() if info.plugin == name
                ),
            }
        )
    return rows


def plugin_settings(pm: pluggy.PluginManager) -> list[tuple[str, type]]:
    """(prefix, Settings class) of every plugin's own settings (``tierii_plugin_settings``)."""
    return [pair for registered in pm.hook.tierii_plugin_settings() for pair in registered or ()]
