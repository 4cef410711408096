"""The settings and hook references, generated from the code (used by the docs build and tests).

Settings: CoreSettings and the ``Settings`` of every component the installed plugins
register (the docs environment installs them all). Hooks: every hookspec in
``tierii_core.hookspecs.__all__``, with its signature and docstring.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs

from tierii_core import hookspecs
from tierii_core.models import Secret
from tierii_core.plugins import Registry, make_plugin_manager
from tierii_core.sender_auth import SETTINGS_SECTIONS
from tierii_core.settings import CoreSettings, env_name, expected_form, settings_fields

KIND_TITLES = {
    "source": "contact source",
    "engine": "template engine",
    "provider": "provider",
    "rule": "rule",
}
_ROLE = re.compile(r":(?:class|meth|func|data|attr|mod|exc):`~?(?:[\w.]+\.)?([\w]+)`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(field: attrs.Attribute) -> str:
    value = field.default
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        value = value.factory()
    if isinstance(value, Secret):
        return "(unset)" if not value else "(set)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def settings_table(settings_cls: type, component: str | None) -> str:
    rows = ["| variable | default | form | meaning |", "|---|---|---|---|"]
    for field in settings_fields(settings_cls):
        secret = (
            " Secret: never shown."
            if field.type is Secret or Secret in getattr(field.type, "__args__", ())
            else ""
        )
        rows.append(
            f"| `{env_name(component, field.name)}` | {_default(field)} | {_cell(expected_form(field))} "
            f"| {_cell(str(field.metadata.get('help', '')))}{secret} |"
        )
    return "\n".join(rows)


def settings_reference() -> str:
    """Markdown: a table for the core, then one per component with settings."""
    pm = make_plugin_manager()
    registry = Registry(pm)
    parts = ["### Core (`tierii-core`)", "", settings_table(CoreSettings, None), ""]
    for title, cls, prefix in SETTINGS_SECTIONS:
        table = settings_table(cls, prefix)
        parts += [f"### Core: {title} (`tierii-core`)", "", cls.__doc__ or "", "", table, ""]
    for info in sorted(registry.components(), key=lambda i: (i.kind, i.name)):
        if not settings_fields(info.cls.Settings):
            continue
        source = pm.sources.get(info.plugin)
        distribution = source.distribution if source else "tierii-core"
        parts += [
            f"### {KIND_TITLES[info.kind].capitalize()} `{info.name}` (`{distribution}`)",
            "",
            info.cls.describe(),
            "",
            settings_table(info.cls.Settings, info.name),
            "",
        ]
    return "\n".join(parts)


def _docstring(text: str) -> str:
    """reStructuredText field lists and roles -> Markdown."""
    lines, params = [], []
    for line in inspect.cleandoc(text).splitlines():
        field = re.match(r"^:param (\w+):\s*(.*)$", line)
        returns = re.match(r"^:returns?:\s*(.*)$", line)
        if field:
            params.append(f"- `{field[1]}`: {field[2]}")
        elif returns:
            params.append(f"- returns: {returns[1]}")
        elif params and line.startswith(" "):
            params[-1] += " " + line.strip()
        else:
            lines.append(line)
    body = "\n".join(lines).strip()
    if params:
        body += "\n\n" + "\n".join(params)
    return _ROLE.sub(r"`\1`", body).replace("``", "`")


def hook_reference() -> str:
    """Markdown: each hook's heading, signature, kind and documentation."""
    pm = make_plugin_manager(load_entry_points=False)
    parts = []
    for name in hookspecs.__all__:
        function = getattr(hookspecs, name)
        spec = getattr(pm.hook, name).spec
        kind = (
            "first result wins" if spec and spec.opts.get("firstresult") else "every implementation is called"
        )
        signature = str(inspect.signature(function)).replace("'", "")
        parts += [
            f"### `{name}`",
            "",
            "```python",
            "@hookimpl",
            f"def {name}{signature}: ...",
            "```",
            "",
            f"*{kind}*",
            "",
            _docstring(function.__doc__ or ""),
            "",
        ]
    return "\n".join(parts)
