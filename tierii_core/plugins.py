"""The plugin manager: hookspecs, default plugins, entry points, and the component registry.

Nothing here runs at import time: the CLI calls :func:`make_plugin_manager` once per command.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any

import pluggy
from attrs import field, frozen

from tierii_core import NAME, hookspecs
from tierii_core.components import KINDS, Component
from tierii_core.entry_points import GROUP, EntryPoint, entry_points
from tierii_core.errors import PluginError, TierIIError
from tierii_core.redact import mask_credentials

ENTRY_POINT_GROUP = GROUP

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

#: what a component of each kind is called in messages ("registered ... as a template engine")
KIND_NOUNS = {
    "source": "a contact source",
    "engine": "a template engine",
    "provider": "a provider",
    "rule": "a compliance rule",
}

ESCAPE_HATCH = (
    "To run without it, set TIERII_DISABLE_PLUGINS={name} (or TIERII_LOAD_PLUGINS='' to load "
    "no installed plugin), then fix or uninstall it: tierii uninstall {dist} -y"
)
#: the way out for a plugin that ships with tierii-core (it cannot be uninstalled on its own)
DEFAULT_ESCAPE_HATCH = "To run without it, set TIERII_DISABLE_PLUGINS={name}."

#: the variables that choose plugins: read from the environment, then --env-file or ./.env
PLUGIN_VARIABLES = ("TIERII_LOAD_PLUGINS", "TIERII_DISABLE_PLUGINS", "TIERII_TRACE_PLUGINS")


def _plugin_settings() -> dict[str, str]:
    """The plugin-choosing variables, from the environment or the settings file.

    Read before any plugin loads (so not through a ``Settings`` class); a settings file that
    cannot be read is left to the command to report.
    """
    from tierii_core.settings import SettingsReader

    try:
        reader = SettingsReader()
        found = {name: reader.raw(name) for name in PLUGIN_VARIABLES}
    except Exception:  # the command reports an unreadable settings file with its own message
        found = {name: (os.environ[name], "environment") for name in PLUGIN_VARIABLES if name in os.environ}
    return {name: str(value[0]) for name, value in found.items() if value is not None}


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def tracing(settings: dict[str, str] | None = None) -> bool:
    """Whether ``TIERII_TRACE_PLUGINS`` is on (environment or settings file)."""
    value = (settings if settings is not None else _plugin_settings()).get("TIERII_TRACE_PLUGINS", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


@frozen
class BrokenPlugin:
    """A plugin left out because it failed: its message (with the way out) and traceback."""

    name: str
    distribution: str
    version: str | None
    error: str
    traceback: str = ""
    exception: BaseException | None = field(default=None, eq=False)


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
        #: plugins left out because they failed (``make_plugin_manager(tolerant=True)``)
        self.broken: dict[str, BrokenPlugin] = {}

    def mark_broken(self, name: str, problem: str, exc: BaseException) -> None:
        """Leave the plugin ``name`` out of this manager, remembering why (first problem wins)."""
        source = self.sources.pop(name, None)
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin)
        self.set_blocked(name)
        if name not in self.broken:
            hatch = (ESCAPE_HATCH if source else DEFAULT_ESCAPE_HATCH).format(
                name=name, dist=source.distribution if source else name
            )
            self.broken[name] = BrokenPlugin(
                name,
                source.distribution if source else "tierii-core",
                source.version if source else None,
                f"plugin '{name}'{_where(source)} {problem}\n{hatch}",
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                exc,
            )

    def raise_if_broken(self) -> None:
        """Raise :class:`PluginError` naming every broken plugin and the way out."""
        if self.broken:
            first = next(iter(self.broken.values()))
            raise PluginError("\n".join(b.error for b in self.broken.values())) from first.exception


def _where(source: PluginSource | None) -> str:
    if source is None:
        return ""
    return f" (entry point {source.entry_point} = {source.target}, from {source.distribution})"


def make_plugin_manager(*, load_entry_points: bool = True, tolerant: bool = False) -> PluginManager:
    """A plugin manager with the specs, the default plugins and the installed plugins.

    ``TIERII_LOAD_PLUGINS`` (comma list, '' for none) limits which entry points load;
    ``TIERII_DISABLE_PLUGINS`` blocks plugins by name, default ones included;
    ``TIERII_TRACE_PLUGINS=1`` prints every hook call to stderr. Each is read from the
    environment, then the settings file (``--env-file`` or ``./.env``).
    Raises :class:`PluginError` naming the entry point when a plugin is broken; with
    ``tolerant`` the broken plugins are left out and listed in ``pm.broken`` instead.
    """
    settings = _plugin_settings()
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for blocked in _names(settings.get("TIERII_DISABLE_PLUGINS")) or ():
        pm.set_blocked(blocked)
    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if not pm.is_blocked(short):
            pm.register(import_module(module_name), name=short)
    if load_entry_points:
        for ep in _selected_entry_points(_names(settings.get("TIERII_LOAD_PLUGINS"))):
            _load_entry_point(pm, ep)
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            if pm.is_registered(exc.plugin):
                pm.unregister(exc.plugin)  # so that the next check goes past it
            pm.mark_broken(name, f"is invalid: {exc}{_suggestions(pm, exc.plugin)}", exc)
    if not tolerant:
        pm.raise_if_broken()
    if tracing(settings):
        pm.trace.root.setwriter(lambda message: sys.stderr.write(message))
        pm.enable_tracing()
    return pm


def _selected_entry_points(wanted: set[str] | None) -> Iterator[EntryPoint]:
    seen: set[str] = set()
    for ep in entry_points():
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        if wanted is None or ep.name in wanted:
            yield ep


def _load_entry_point(pm: PluginManager, ep: EntryPoint) -> None:
    if pm.is_blocked(ep.name):
        return
    pm.sources[ep.name] = PluginSource(ep.name, ep.value, ep.dist_name, ep.version)
    try:
        plugin = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        pm.mark_broken(ep.name, f"failed to import: {type(exc).__name__}: {exc}", exc)
        return
    try:
        pm.register(plugin, name=ep.name)
    except pluggy.PluginValidationError as exc:
        pm.mark_broken(ep.name, f"is invalid: {exc}{_suggestions(pm, plugin)}", exc)


def _suggestions(pm: pluggy.PluginManager, plugin: object) -> str:
    """ "did you mean" lines for the plugin's misspelt hook names and hook parameters."""
    import difflib  # only a broken plugin needs it

    specs = {
        name: caller.spec.argnames
        for name, caller in vars(pm.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
    }
    lines = []
    for attribute in dir(plugin):
        options = pm.parse_hookimpl_opts(plugin, attribute)
        if options is None:
            continue
        hook = options.get("specname") or attribute
        if hook not in specs:
            close = difflib.get_close_matches(hook, specs, n=1)
            lines.append(f"unknown hook '{hook}'" + (f": did you mean '{close[0]}'?" if close else ""))
            continue
        function: Callable[..., Any] = getattr(plugin, attribute)
        for parameter, declared in inspect.signature(function).parameters.items():
            if declared.default is inspect.Parameter.empty and parameter not in specs[hook]:
                close = difflib.get_close_matches(parameter, specs[hook], n=1)
                known = (
                    f"did you mean '{close[0]}'?" if close else f"it takes {', '.join(specs[hook]) or 'none'}"
                )
                lines.append(f"{hook} has no parameter '{parameter}': {known}")
    return "".join(f"\n  {line}" for line in lines)


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


def register_commands(pm: PluginManager, cli: Any) -> None:
    """Let each plugin add its commands; a plugin whose hook raises is marked broken.

    Called on every ``tierii`` invocation: a broken plugin must not take ``--help``,
    ``plugins`` or ``uninstall`` down with it. Commands that need plugins then report it.
    """
    for plugin_name, call in each_implementation(pm, "tierii_register_commands"):
        try:
            call(cli=cli)
        except Exception as exc:  # third-party code: name it and the way out, never a traceback
            pm.mark_broken(plugin_name, f"tierii_register_commands raised {type(exc).__name__}: {exc}", exc)


@frozen
class ComponentInfo:
    kind: str
    name: str
    cls: type[Component]
    plugin: str


class Registry:
    """All components the plugins registered, by kind and name; refuses duplicate names.

    A plugin whose registration hook raises or returns something that is not a component is
    an error naming it and the way out; with ``tolerant`` (``tierii plugins``) it is left
    out and listed in ``pm.broken`` instead. A :class:`TierIIError` the hook raises on
    purpose (a pack file of the user's that is wrong) is its message to the user: it stops
    the command as it is, whatever the mode.
    """

    def __init__(self, pm: pluggy.PluginManager, *, tolerant: bool = False) -> None:
        self.pm = pm
        self._by_kind: dict[str, dict[str, ComponentInfo]] = {kind: {} for kind in KINDS}
        for kind, hook_name in REGISTRATION_HOOKS.items():
            for plugin_name, call in each_implementation(pm, hook_name):
                try:
                    results = call()  # one list per implementation: here, one
                except TierIIError:
                    raise  # the plugin's own message about the user's configuration (a file it reads)
                except Exception as exc:  # third-party code: name it, never a bare traceback
                    problem = f"plugin '{plugin_name}': {hook_name} raised {type(exc).__name__}: {exc}"
                    self._refuse(plugin_name, problem, exc, tolerant)
                    continue
                try:
                    for registered in results:
                        for cls in registered or ():
                            self._add(kind, cls, plugin_name)
                except PluginError as exc:
                    self._refuse(plugin_name, str(exc), exc, tolerant)
        if isinstance(pm, PluginManager) and pm.broken:
            for info in list(self.components()):
                if info.plugin in pm.broken:
                    del self._by_kind[info.kind][info.name]

    def _refuse(self, plugin: str, problem: str, exc: Exception, tolerant: bool) -> None:
        pm = self.pm
        prefix = f"plugin '{plugin}'"
        if isinstance(pm, PluginManager):
            # mark_broken puts the plugin's name, source and way out around the problem
            pm.mark_broken(plugin, problem.removeprefix(prefix).lstrip(": ") or problem, exc)
            if not tolerant:
                pm.raise_if_broken()
        elif not tolerant:
            raise PluginError(problem) from exc

    def _add(self, kind: str, cls: type[Component], plugin: str) -> None:
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"plugin '{plugin}' registered {cls!r} as {KIND_NOUNS[kind]}, but it is not a "
                f"{base.__name__} subclass (tierii_core.components.{base.__name__})"
            )
        name = getattr(cls, "name", None)
        if not name:
            raise PluginError(f"plugin '{plugin}' registered {cls.__name__} without a 'name'")
        existing = self._by_kind[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"plugin '{plugin}' registers {KIND_NOUNS[kind]} named '{name}' "
                f"({cls.__module__}.{cls.__name__}), as plugin '{existing.plugin}' already does "
                f"({existing.cls.__module__}.{existing.cls.__name__}): two plugins register "
                f"{KIND_NOUNS[kind]} named '{name}'"
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
        shown = mask_credentials(location)
        raise PluginError(
            f"no installed {kind} handles '{shown}' (handled: {', '.join(patterns) or 'none'}); "
            "install the plugin for it, e.g. pip install tierii-csv"
        )


def plugin_rows(
    pm: PluginManager, registry: Registry, *, with_traceback: bool = False
) -> list[dict[str, Any]]:
    """What ``tierii plugins`` shows: each plugin's name, version, hooks and components.

    A broken plugin has a row too, with its ``error`` (and ``traceback`` if asked); the
    others have ``error: null``.
    """
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
                "error": None,
            }
        )
    for broken in pm.broken.values():
        rows.append(
            {
                "name": broken.name,
                "version": broken.version,
                "distribution": broken.distribution,
                "default": broken.distribution == "tierii-core",
                "hooks": [],
                "components": [],
                "error": broken.error,
                **({"traceback": broken.traceback} if with_traceback else {}),
            }
        )
    return sorted(rows, key=lambda row: row["name"])


def plugin_settings(pm: pluggy.PluginManager) -> list[tuple[str, type]]:
    """(prefix, Settings class) of every plugin's own settings (``tierii_plugin_settings``)."""
    return [pair for registered in pm.hook.tierii_plugin_settings() for pair in registered or ()]
