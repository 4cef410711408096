"""Registers one compliance rule per rule pack: the shipped ones and the user's own.

Your own packs live in the directory named by ``TIERII_CANNABIS_PACK_DIR``: each ``*.toml``
there becomes a rule named after its pack, and may extend a shipped pack
(``extends = "cannabis-ca"``). The variable is read when the rules are registered, like every
setting: from the environment, then ``tierii --env-file`` or ``./.env``.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import field, frozen

from tierii_core import hookimpl
from tierii_core.components import ComplianceRule, ContactVariables
from tierii_core.errors import PluginError
from tierii_core.logs import get_logger
from tierii_core.settings import DEPRECATED_SETTINGS, SettingsReader, env_name

if TYPE_CHECKING:  # the packs load when rules are asked for: `tierii --help` does not pay for them
    from tierii_cannabis.packs import PackFile
    from tierii_cannabis.rules import PackRule
    from tierii_cannabis.stores import StoreBook

COMPONENT = "cannabis"


@frozen
class CannabisSettings:
    """The plugin's own settings, read from ``TIERII_CANNABIS_<FIELD>``."""

    pack_dir: str = field(
        default="",
        metadata={"help": "A directory of your own rule packs (*.toml); each becomes a --rules name."},
    )
    stores_file: str = field(
        default="",
        metadata={
            "help": "A chain's stores (CSV or TOML): id, license_number, license_type, state, from, address.",
            "form": "a path to a .csv or .toml file",
        },
    )
    store_column: str = field(
        default="store", metadata={"help": "The contact column that names each recipient's store."}
    )
    license_number: str = field(
        default="",
        metadata={
            "help": "A single store's licence number ({{license_number}}), when there is no stores file."
        },
    )
    license_type: str = field(
        default="retail",
        metadata={
            "help": "A single store's licence type: retail, medical, microbusiness or delivery.",
            "form": "retail, medical, microbusiness or delivery",
        },
    )


@hookimpl
def tierii_plugin_settings() -> list[tuple[str, type]]:
    return [(COMPONENT, CannabisSettings)]


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    from tierii_cannabis.auto import auto_rule

    rules: list[type[ComplianceRule]] = list(_shipped_rules())
    directory = _pack_dir()
    if directory is not None:
        rules += rules_from(directory)
    return [*rules, auto_rule(tuple(rules))]


def pack_rules() -> list[type[PackRule]]:
    """The rule of every pack (shipped and your own), without cannabis-auto that dispatches to them."""
    from tierii_cannabis.rules import PackRule

    return [r for r in tierii_compliance_rules() if issubclass(r, PackRule)]


@hookimpl
def tierii_template_variables() -> ContactVariables:
    """Each recipient's store: its licence number, postal address and From identity.

    The stores come from the plugin's settings as the rules read them (the environment, then
    ``--env-file`` or ``./.env``), so the variables and the checks always see the same stores.
    """
    from tierii_cannabis.variables import StoreVariables

    return StoreVariables(store_book())


def store_book(reader: SettingsReader | None = None) -> StoreBook:
    """The stores of this run: the stores file, or the single store of the settings."""
    from tierii_cannabis.stores import single_store

    reader = reader or SettingsReader()
    settings = reader.load(CannabisSettings, COMPONENT)
    if settings.stores_file.strip():
        path = Path(os.path.expanduser(settings.stores_file.strip()))
        return _cached_stores(path, settings.store_column.strip() or "store", _stamp(path))
    number = settings.license_number
    if not number.strip():
        old = reader.raw("TIERII_LICENSE_NUMBER")
        if old is not None and str(old[0]).strip():
            _warn_deprecated()
            number = str(old[0])
    return single_store(number, settings.license_type, f"{env_name(COMPONENT, 'license_type')}")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None  # load_stores says why
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _cached_stores(path: Path, column: str, stamp: tuple[int, int] | None) -> StoreBook:
    """Read once per run even though the rules and the variables both ask (the stamp changes
    when the file does)."""
    from tierii_cannabis.stores import load_stores

    return load_stores(path, column)


def _warn_deprecated() -> None:
    message = DEPRECATED_SETTINGS["TIERII_LICENSE_NUMBER"]
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    if message not in _warned:  # once per process: the rules and the variables both read it
        _warned.add(message)
        get_logger().warning("settings.deprecated", variable="TIERII_LICENSE_NUMBER", hint=message)


_warned: set[str] = set()


def rules_from(directory: Path) -> list[type[PackRule]]:
    """One rule per ``*.toml`` pack in ``directory``; a pack there may extend a shipped one."""
    from tierii_cannabis.packs import directory_files, index, resolve
    from tierii_cannabis.rules import rule_class

    shipped = _shipped_files()
    files = index(directory_files(directory), shipped)
    return [rule_class(resolve(name, files)) for name in files if name not in shipped]


@functools.cache
def _shipped_files() -> dict[str, PackFile]:
    from tierii_cannabis.packs import index, shipped_files

    return index(shipped_files())


@functools.cache
def _shipped_rules() -> tuple[type[PackRule], ...]:
    """Built once per process, so each shipped pack is always the same class."""
    from tierii_cannabis.packs import resolve
    from tierii_cannabis.rules import rule_class

    files = _shipped_files()
    # checked by the plugin's tests (test_shipped_packs_resolve_checked): compiled on first use
    return tuple(rule_class(resolve(name, files, checked=False)) for name in files)


def _pack_dir() -> Path | None:
    value = SettingsReader().load(CannabisSettings, COMPONENT).pack_dir.strip()
    if not value:
        return None
    directory = Path(os.path.expanduser(value))
    if not directory.is_dir():
        raise PluginError(f"{env_name(COMPONENT, 'pack_dir')}={value!r}: no such directory")
    return directory
