"""Registers one compliance rule per rule pack: the shipped ones and the user's own.

Your own packs live in the directory named by ``TIERII_CANNABIS_PACK_DIR``: each ``*.toml``
there becomes a rule named after its pack, and may extend a shipped pack
(``extends = "cannabis-ca"``). The variable is read when the rules are registered, like every
setting: from the environment, then ``tierii --env-file`` or ``./.env``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import field, frozen

from tierii_core import hookimpl
from tierii_core.components import ComplianceRule
from tierii_core.errors import PluginError
from tierii_core.settings import SettingsReader, env_name

if TYPE_CHECKING:  # the packs load when rules are asked for: `tierii --help` does not pay for them
    from tierii_cannabis.packs import PackFile
    from tierii_cannabis.rules import PackRule

COMPONENT = "cannabis"


@frozen
class CannabisSettings:
    """The plugin's own settings, read from ``TIERII_CANNABIS_<FIELD>``."""

    pack_dir: str = field(
        default="",
        metadata={"help": "A directory of your own rule packs (*.toml); each becomes a --rules name."},
    )


@hookimpl
def tierii_plugin_settings() -> list[tuple[str, type]]:
    return [(COMPONENT, CannabisSettings)]


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    rules: list[type[ComplianceRule]] = list(_shipped_rules())
    directory = _pack_dir()
    if directory is not None:
        rules += rules_from(directory)
    return rules


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
    return tuple(rule_class(resolve(name, files)) for name in files)


def _pack_dir() -> Path | None:
    value = SettingsReader().load(CannabisSettings, COMPONENT).pack_dir.strip()
    if not value:
        return None
    directory = Path(os.path.expanduser(value))
    if not directory.is_dir():
        raise PluginError(f"{env_name(COMPONENT, 'pack_dir')}={value!r}: no such directory")
    return directory
