"""The settings, hook and objects references, generated from the code.

docs/_mkdocs/pages.py writes them into docs/settings.md and docs/hooks.md (between
``<!-- generated: NAME -->`` and ``<!-- end generated -->``) and checks they are current.

Settings: CoreSettings, the ``Settings`` of every component the installed plugins register,
and the settings plugins declare with ``tierii_plugin_settings`` (every plugin of plugins/
must be installed: pages.py checks). Hooks: every hookspec in
``tierii_core.hookspecs.__all__``, with its signature and docstring. Objects: the values the
hooks pass and the component interfaces, from their classes (fields, types, defaults, the
comment on each field's line, public methods and their docstrings).
"""

from __future__ import annotations

import enum
import inspect
import re
from pathlib import Path

import attrs

from tierii_core import components, errors, hookspecs, models
from tierii_core.models import Secret
from tierii_core.plugins import Registry, make_plugin_manager, plugin_settings
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
    for prefix, settings_cls in sorted(plugin_settings(pm), key=lambda pair: pair[0]):
        plugin = next(
            (name for name, p in pm.list_name_plugin() if p is not None and _declares(pm, p, prefix)), None
        )
        source = pm.sources.get(plugin or "")
        distribution = source.distribution if source else "tierii-core"
        doc = _docstring((inspect.getdoc(settings_cls) or "").split("\n\n")[0]).replace("\n", " ")
        title = f"`{prefix}`" if prefix else "without a prefix"  # TIERII_<FIELD>, as the core's
        parts += (
            [f"### Plugin settings {title} (`{distribution}`)", "", doc, ""]
            if doc
            else [
                f"### Plugin settings {title} (`{distribution}`)",
                "",
            ]
        )
        parts += [settings_table(settings_cls, prefix), ""]
    return "\n".join(parts)


def _declares(pm, plugin: object, prefix: str) -> bool:
    implementation = getattr(plugin, "tierii_plugin_settings", None)
    if implementation is None:
        return False
    return any(pair[0] == prefix for pair in implementation() or ())


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


#: the objects the hooks pass and take, in the order the reference shows them
OBJECTS = {
    "Values the hooks pass": [
        models.Contact,
        models.Rejected,
        models.Address,
        models.Message,
        models.Outcome,
        models.Status,
        models.ErrorKind,
        models.Credentials,
        models.Secret,
        models.RunInfo,
        models.RunSummary,
        models.CheckStep,
    ],
    "Component interfaces": [
        components.Component,
        components.ContactSource,
        components.TemplateEngine,
        components.CompiledTemplate,
        components.DeliveryProvider,
        components.ComplianceRule,
    ],
    "Errors a plugin raises": [
        errors.SourceError,
        errors.TemplateError,
        errors.MissingVariable,
        errors.FatalProviderError,
    ],
}
SETTINGS_READER = "tierii_core.settings.SettingsReader"
_COMMENTED = re.compile(r"^\s*(\w+)\s*(?::[^=#]*)?(?:=[^#]*)?#(?!:)\s*(.+?)\s*$")


def _line_comments(cls: type) -> dict[str, str]:
    """Each attribute's comment: ``#:`` lines above it, or the comment at the end of its line."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return comments
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        name = re.match(r"^\s+(\w+)\s*[:=]", line)
        if name and pending:
            comments[name[1]] = " ".join(pending)
        elif name and (trailing := _COMMENTED.match(line)) and trailing[1] == name[1]:
            comments[name[1]] = trailing[2]
        pending = []
    return comments


def _type(annotation: object) -> str:
    """A type for a table cell: each alternative of a union in its own code span, the bar
    between them escaped (GitHub splits cells at a bar even inside a code span)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    text = str(text).replace("typing.", "").replace("collections.abc.", "")
    return " \\| ".join(f"`{part}`" for part in text.split(" | "))


def _value(value: object) -> str:
    if value is attrs.NOTHING:
        return "required"
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        value = value.factory()  # type: ignore[attr-defined]
    if isinstance(value, enum.Enum):
        return f"`{type(value).__name__}.{value.name}`"
    return f"`{value!r}`"


#: special methods a plugin implements or the core calls (attrs classes' __init__ is generated)
_SPECIAL = {"__init__", "__iter__", "__enter__"}


def _own(cls: type) -> list[type]:
    """``cls`` and its private bases (``_Claiming``): what the reference shows as its own."""
    return [cls] + [b for b in cls.__mro__[1:] if b.__name__.startswith("_") and b is not object]


def _members(cls: type) -> list[str]:
    """The public methods and properties ``cls`` itself defines, with their docstrings."""
    lines = []
    special = set() if attrs.has(cls) else _SPECIAL
    members = {}
    for owner in reversed(_own(cls)):
        members.update(vars(owner))
    for name, member in members.items():
        if name.startswith("_") and name not in special:
            continue
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if isinstance(member, property):
            doc = inspect.cleandoc(member.__doc__ or "")
            lines.append(f"- `{name}` (property)" + (f": {_first_paragraph(doc)}" if doc else ""))
        elif inspect.isfunction(function):
            signature = _signature(function)
            prefix = "classmethod " if isinstance(member, classmethod) else ""
            doc = inspect.cleandoc(function.__doc__ or "")  # its own, never one inherited from object
            lines.append(f"- {prefix}`{name}{signature}`" + (f": {_first_paragraph(doc)}" if doc else ""))
    return lines


def _signature(function: object) -> str:
    """``(a: str, *, b: int = 0) -> str`` with the annotations as written, ``self``/``cls`` left out."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    shown, keyword_only = [], False
    for parameter in parameters:
        if parameter.kind is parameter.KEYWORD_ONLY and not keyword_only:
            shown.append("*")
            keyword_only = True
        text = parameter.name
        if parameter.annotation is not parameter.empty:
            text += f": {parameter.annotation}"
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        shown.append(text)
    returns = "" if signature.return_annotation is signature.empty else f" -> {signature.return_annotation}"
    return f"({', '.join(shown)}){returns}"


def _first_paragraph(doc: str) -> str:
    return _docstring(doc.split("\n\n")[0]).replace("\n", " ")


def _class_vars(cls: type) -> list[str]:
    """Class attributes declared with a comment (a component's ``priority``...)."""
    rows = []
    fields = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
    for owner in reversed(_own(cls)):
        comments = _line_comments(owner)
        names = [*vars(owner).get("__annotations__", {}), *vars(owner)]
        for name in dict.fromkeys(names):
            if name not in comments or name in fields or name.startswith("_"):
                continue
            value = vars(owner).get(name, attrs.NOTHING)
            if value is attrs.NOTHING:
                shown = "(each component sets it)"
            else:
                shown = f"`{value.__name__}`" if isinstance(value, type) else _value(value)
            rows.append(f"| `{name}` | {shown} | {_cell(comments[name]).replace('``', '`')} |")
    return ["| class attribute | default | meaning |", "|---|---|---|", *rows] if rows else []


def describe_class(cls: type, qualified: str | None = None) -> str:
    """One object's section: heading, docstring, fields or members, methods."""
    qualified = qualified or f"{cls.__module__}.{cls.__qualname__}"
    parts = [f"#### `{cls.__name__}`", "", f"`{qualified}`" + _bases(cls), ""]
    doc = inspect.getdoc(cls) or ""
    if doc and not (cls.__doc__ is None and attrs.has(cls)):
        parts += [_docstring(doc), ""]
    comments = _line_comments(cls)
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        parts += ["| member | value | meaning |", "|---|---|---|"]
        parts += [f"| `{m.name}` | `{m.value!r}` | {_cell(comments.get(m.name, ''))} |" for m in cls]
        parts.append("")
    elif attrs.has(cls):
        parts += ["| field | type | default | meaning |", "|---|---|---|---|"]
        parts += [
            f"| `{f.name}` | {_type(f.type)} | {_value(f.default)} | {_cell(comments.get(f.name, ''))} |"
            for f in attrs.fields(cls)
        ]
        parts.append("")
    class_vars = [] if issubclass(cls, enum.Enum) else _class_vars(cls)
    if class_vars:
        parts += [*class_vars, ""]
    members = _members(cls)
    if members:
        parts += [*members, ""]
    return "\n".join(parts)


def _bases(cls: type) -> str:
    bases = [b for b in cls.__mro__[1:] if b not in (object, enum.Enum) and not b.__name__.startswith("_")]
    return f" (subclass of `{bases[0].__name__}`)" if bases else ""


def objects_reference() -> str:
    """Markdown: each object the hooks pass or take, grouped."""
    from tierii_core.settings import SettingsReader

    parts = []
    for title, classes in [*OBJECTS.items(), ("Reading settings", [SettingsReader])]:
        parts += [f"### {title}", ""]
        parts += [describe_class(cls) for cls in classes]
    return "\n".join(parts)
