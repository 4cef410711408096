"""TIERII_* settings: python-decouple reads them, cattrs structures them into attrs classes.

Order of precedence: command-line options (passed as ``overrides``), the process environment,
a ``.env`` file in the working directory, then the defaults in the ``Settings`` classes.
Each component's nested ``Settings`` is filled from ``TIERII_<COMPONENT>_<FIELD>``; the core's
own settings from ``TIERII_<FIELD>``. Every bad value is reported at once, each naming its
variable, the problem and the expected form.
"""

from __future__ import annotations

import functools
import os
import sys
import typing
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen
from decouple import Config, RepositoryEmpty, RepositoryEnv

from tierii_core.errors import SettingsError
from tierii_core.models import Secret

PREFIX = "TIERII_"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

FORMS: Mapping[Any, str] = {
    int: "a whole number, e.g. 25",
    float: "a number, e.g. 1.5",
    bool: "true or false",
    Path: "a path",
    str: "text",
    Secret: "text (kept secret)",
}


def _to_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


def _to_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().replace("_", "")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None


def _to_float(value: Any, _: type) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


@functools.cache
def converter() -> Any:
    """The cattrs converter for settings (built on first use: cattrs costs ~10 ms to import)."""
    import cattrs

    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(bool, _to_bool)
    converter.register_structure_hook(int, _to_int)
    converter.register_structure_hook(float, _to_float)
    converter.register_structure_hook(Secret, _to_secret)
    converter.register_structure_hook(Path, _to_path)
    return converter


def _to_secret(value: Any, _: type) -> Secret:
    return value if isinstance(value, Secret) else Secret(str(value))


def _to_path(value: Any, _: type) -> Path:
    return Path(os.path.expanduser(str(value)))


#: the field types settings use, structured as the cattrs converter does, without importing
#: cattrs (~25 ms of every command); any other type goes through the converter
_SIMPLE: dict[Any, Any] = {
    str: lambda value, _: str(value),
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    Secret: _to_secret,
    Path: _to_path,
}


def structure(raw: Any, kind: Any) -> Any:
    """A raw setting as a value of ``kind`` (the field's type)."""
    simple = _SIMPLE.get(kind) if isinstance(kind, type) else None
    if simple is not None:
        return simple(raw, kind)
    return converter().structure(raw, kind)


@functools.cache
def structure_errors() -> tuple[type[Exception], ...]:
    """What structuring a bad value raises."""
    import cattrs

    return (ValueError, TypeError, cattrs.BaseValidationError)


def env_name(component: str | None, field_name: str) -> str:
    """The variable that fills a field: ``TIERII_SMTP_HOST`` or, for the core, ``TIERII_PROVIDER``."""
    middle = f"{component.upper()}_" if component else ""
    return f"{PREFIX}{middle}{field_name.upper()}"


def expected_form(attribute: attrs.Attribute) -> str:
    """How a value of this field should look, for error messages and the settings reference."""
    if "form" in attribute.metadata:
        return attribute.metadata["form"]
    kind = attribute.type
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return FORMS.get(kind, str(kind))


def _address_or_empty(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    local, at, domain = value.rpartition("@")
    if value and (not at or not local or "." not in domain or any(c in value for c in " <>,;+")):
        raise ValueError(f"{value!r} is not a plain address (no display name, no '+' tag)")


@frozen
class CoreSettings:
    """Settings of the core, read from ``TIERII_<FIELD>``."""

    provider: str = field(
        default="auto",
        metadata={
            "help": "Provider name, a fallback chain 'a,b', or 'auto' (highest-priority configured).",
            "form": "a provider name, 'a,b' or 'auto'",
        },
    )
    from_email: str = field(default="", metadata={"help": "Default sender address (template From: wins)."})
    from_name: str = field(default="", metadata={"help": "Default sender display name."})
    batch_size: int = field(
        default=0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "Messages per provider call; 0 = the provider's maximum.",
            "form": "a whole number >= 0",
        },
    )
    batch_delay: float = field(
        default=0.0,
        validator=attrs.validators.ge(0),
        metadata={"help": "Seconds to wait between batches.", "form": "a number of seconds >= 0"},
    )
    rate_limit: str = field(
        default="", metadata={"help": "Maximum sending rate, e.g. 50/s or 600/min.", "form": "N/s or N/min"}
    )
    concurrency: int = field(
        default=1,
        validator=attrs.validators.ge(1),
        metadata={"help": "Provider calls in flight at once.", "form": "a whole number >= 1"},
    )
    state_dir: Path = field(default=Path(".tierii"), metadata={"help": "Where the journal lives."})
    state_url: Secret = field(
        default=Secret(""),
        metadata={
            "help": "The state store as a URL, which wins over TIERII_STATE_DIR: sqlite:///path/to/dir, "
            "or postgresql://user:password@host:port/database (shared by every machine that sends; "
            "pip install 'tierii-core[postgres]'). The password is masked wherever it is shown.",
            "form": "sqlite:///path or postgresql://user:password@host:port/database",
        },
    )
    state_lease: float = field(
        default=60.0,
        validator=attrs.validators.gt(0),
        metadata={
            "help": "Seconds a sending process's claims stay its own without a heartbeat (renewed every "
            "few seconds while it runs); after that, what it left in flight is reported unknown.",
            "form": "a number of seconds > 0",
        },
    )
    state_reconnect: float = field(
        default=30.0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "PostgreSQL state store: seconds a run keeps reconnecting to a server that went away "
            "before it stops (exit 3; the re-run resumes).",
            "form": "a number of seconds >= 0",
        },
    )
    transactional: bool = field(default=False, metadata={"help": "Transactional mail: marketing rules off."})
    require_approval: bool = field(
        default=False,
        metadata={"help": "A marketing send needs `tierii approve` of its templates' current content first."},
    )
    max_attempts: int = field(
        default=8,
        validator=attrs.validators.ge(1),
        metadata={"help": "Attempts per recipient for transient errors.", "form": "a whole number >= 1"},
    )
    retry_delay: float = field(
        default=1.0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "Base of the exponential backoff between attempts, in seconds.",
            "form": "a number of seconds >= 0",
        },
    )
    sender_address: str = field(
        default="",
        metadata={"help": "The sender's postal address, which every marketing message must show (CAN-SPAM)."},
    )
    unsubscribe_url: str = field(
        default="",
        metadata={
            "help": "Base https URL of the unsubscribe endpoint; each recipient gets a signed link.",
            "form": "an https:// URL",
        },
    )
    unsubscribe_secret: Secret = field(
        default=Secret(""),
        metadata={
            "help": "Key that signs unsubscribe links (HMAC-SHA256); keep it secret and stable. "
            "To rotate: NEW,OLD (comma-separated, newest first): links are signed with the first "
            "and accepted with any."
        },
    )
    return_path: str = field(
        default="",
        validator=_address_or_empty,
        metadata={
            "help": "Envelope sender (Return-Path) for bounces, tagged per recipient (VERP): "
            "bounces@shop.example sends as bounces+ana=example.com@shop.example. Providers that "
            "control the envelope (smtp) use it; empty = the From address.",
            "form": "an address such as bounces@shop.example, or empty",
        },
    )
    unsubscribe_mailto: str = field(
        default="",
        metadata={"help": "Optional address for mailto: unsubscribe requests in List-Unsubscribe."},
    )
    ad_notice: str = field(
        default="Advertisement",
        metadata={
            "help": "The advertisement notice every marketing message shows (CAN-SPAM), unless its "
            "recipient's consent column records consent."
        },
    )
    rules: str = field(
        default="", metadata={"help": "Compliance rule packs, e.g. cannabis-ca.", "form": "PACK[,PACK...]"}
    )

    @property
    def license_number(self) -> str:
        """Deprecated: the licence number is tierii-cannabis's ``TIERII_CANNABIS_LICENSE_NUMBER``.

        Kept for one release so that rules reading ``core.license_number`` keep working: it
        returns ``TIERII_LICENSE_NUMBER`` as read from the environment or the settings file.
        """
        warnings.warn(DEPRECATED_SETTINGS["TIERII_LICENSE_NUMBER"], DeprecationWarning, stacklevel=2)
        found = SettingsReader().raw("TIERII_LICENSE_NUMBER")
        return str(found[0]).strip() if found else ""


#: settings that left the core, and what to use instead; still read for one release
DEPRECATED_SETTINGS: Mapping[str, str] = {
    "TIERII_LICENSE_NUMBER": (
        "TIERII_LICENSE_NUMBER is deprecated and will be ignored from the next release: "
        "set TIERII_CANNABIS_LICENSE_NUMBER (tierii-cannabis) instead"
    ),
}


@frozen
class Origin:
    """Where a setting's value came from, for ``tierii check``."""

    variable: str
    value: Any
    source: str  # "option", "environment", the settings file's name (".env"), "default"
    secret: bool = False

    def shown(self) -> str:
        if self.secret:
            return "********" if self.value else "(not set)"
        return str(self.value)


_settings_file: Path | None = None


def use_settings_file(path: Path | None) -> None:
    """Read settings from ``path`` instead of ``./.env`` (``tierii --env-file``), process-wide,
    so that plugins reading their settings inside a hook see the same file as the core."""
    global _settings_file
    _settings_file = path


class SettingsReader:
    """Reads raw values with decouple and structures attrs ``Settings`` classes from them."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, env_file: Path | None = None) -> None:
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        path = env_file or _settings_file or Path.cwd() / ".env"
        self.env_file = path if path.is_file() else None
        self._config = Config(_dotenv(path) if self.env_file else RepositoryEmpty())
        self._dotenv = self._config.repository

    def raw(self, variable: str) -> tuple[Any, str] | None:
        """The raw value of one variable and where it came from, or None if unset."""
        if variable in self.overrides:
            return self.overrides[variable], "option"
        if variable in os.environ:
            return os.environ[variable], "environment"
        if variable in self._dotenv:
            return self._config.get(variable), self.env_file.name
        return None

    def known_variables(self) -> set[str]:
        """Every ``TIERII_*`` variable set in the environment or the ``.env`` file."""
        names = {k for k in os.environ if k.startswith(PREFIX)}
        if self.env_file:
            names |= {k for k in _dotenv(self.env_file).data if k.startswith(PREFIX)}
        return names

    def load(self, cls: type, component: str | None = None) -> Any:
        """Build ``cls`` from its variables; raise :class:`SettingsError` listing every problem."""
        values, problems = {}, []
        for attribute in attrs.fields(attrs.resolve_types(cls)):
            variable = env_name(component, attribute.name)
            found = self.raw(variable)
            if found is None:
                continue
            raw, source = found
            try:
                value = structure(raw, attribute.type)
                if attribute.validator is not None:
                    attribute.validator(None, attribute, value)
            except Exception as exc:
                if not _is_structure_error(exc):
                    raise
                shown = "********" if _is_secret(attribute) else repr(raw)
                problems.append(
                    f"{variable}={shown} ({source}): {_problem(exc)}; expected {expected_form(attribute)}"
                )
                continue
            values[attribute.name] = value
        if problems:
            raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
        return cls(**values)

    def origins(self, cls: type, component: str | None = None) -> Iterator[Origin]:
        """Each field's variable, effective value and where it came from."""
        instance = self.load(cls, component)
        for attribute in attrs.fields(attrs.resolve_types(cls)):
            variable = env_name(component, attribute.name)
            found = self.raw(variable)
            yield Origin(
                variable,
                getattr(instance, attribute.name),
                found[1] if found else "default",
                _is_secret(attribute),
            )


def _dotenv(path: Path) -> RepositoryEnv:
    """The settings file, read by decouple; one that is not UTF-8 is named with its line."""
    try:
        return RepositoryEnv(str(path))
    except UnicodeDecodeError:
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SettingsError(
                    f"{path}:{number}: not valid UTF-8 (byte {line[exc.start]:#04x} at column "
                    f"{exc.start + 1}); save it as UTF-8"
                ) from None
        raise SettingsError(f"{path}: not valid UTF-8; save it as UTF-8") from None


def _is_secret(attribute: attrs.Attribute) -> bool:
    kind = attribute.type
    return kind is Secret or Secret in typing.get_args(kind)


def _is_structure_error(exc: BaseException) -> bool:
    """What structuring a bad value raises (cattrs' errors only if cattrs was needed)."""
    cattrs = sys.modules.get("cattrs")
    return isinstance(exc, (ValueError, TypeError)) or (
        cattrs is not None and isinstance(exc, cattrs.BaseValidationError)
    )


def _problem(exc: BaseException) -> str:
    cattrs = sys.modules.get("cattrs")  # imported only when a field of another type was structured
    if cattrs is not None and isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc))
    # attrs' validators put their message first, then the attribute and the value
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


def settings_fields(cls: type) -> tuple[attrs.Attribute, ...]:
    return attrs.fields(attrs.resolve_types(cls))
