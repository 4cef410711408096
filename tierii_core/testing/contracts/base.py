"""What every component must be: a lowercase name, a description, and loadable ``Settings``."""

from __future__ import annotations

import enum
import re
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import attrs
import pytest

from tierii_core.components import Component
from tierii_core.errors import SettingsError
from tierii_core.models import Secret
from tierii_core.plugins import REGISTRATION_HOOKS, Registry, make_plugin_manager
from tierii_core.settings import SettingsReader, env_name, settings_fields
from tierii_core.testing.environment import clean_environment

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
#: field types whose bad values the core must report with the variable's name
_CHECKED_TYPES = {int: "not-a-number", float: "not-a-number", bool: "maybe"}


def _needed(fixture: str, what: str) -> Any:
    pytest.fail(f"the contract needs a '{fixture}' fixture: {what}", pytrace=False)


def as_variable_text(value: Any) -> str | None:
    """How a user would write ``value`` in a ``TIERII_*`` variable (None: cannot be written)."""
    if value is None:
        return None
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (str, int, float, Path)):
        return str(value)
    return None


def _plain_type(kind: Any) -> Any:
    """``int`` for ``int | None``; the type itself otherwise."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if len(args) == 1 and type(None) in typing.get_args(kind) else kind


class ComponentContract:
    """Checks shared by every kind of component. Not collected itself (no ``Test`` prefix)."""

    #: the base class the component must derive from; set by each kind's suite
    kind: ClassVar[type[Component]] = Component
    #: its registration hook's key in :data:`tierii_core.plugins.REGISTRATION_HOOKS`
    kind_key: ClassVar[str] = ""

    # -- fixtures a plugin's test provides -------------------------------------------------

    @pytest.fixture
    def component_class(self) -> type[Component]:
        """Override: return your component class."""
        return _needed("component_class", "return the component class under test")

    @pytest.fixture
    def plugin(self) -> ModuleType | object:
        """Override: return the plugin (the module your entry point names) that registers it."""
        return _needed("plugin", "return the plugin module that registers the component")

    @pytest.fixture
    def component_settings(self, component_class: type[Component]) -> Any:
        """Settings for the tests; the defaults unless overridden."""
        return component_class.Settings()

    @pytest.fixture
    def contract_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
        """No TIERII_* variable from the machine and an empty working directory."""
        clean_environment(monkeypatch, tmp_path / "contract-work")
        return monkeypatch

    # -- the component ---------------------------------------------------------------------

    def test_derives_from_its_kind(self, component_class: type[Component]) -> None:
        assert isinstance(component_class, type) and issubclass(component_class, self.kind), (
            f"{component_class!r} must derive from tierii_core.components.{self.kind.__name__}"
        )

    def test_name_is_a_lowercase_key(self, component_class: type[Component]) -> None:
        name = getattr(component_class, "name", None)
        assert isinstance(name, str) and NAME.match(name), (
            f"{component_class.__name__}.name = {name!r}: a component's name is its configuration key "
            "(TIERII_<NAME>_<FIELD>): lowercase letters, digits, '_' or '-', starting with a letter"
        )
        for field in settings_fields(component_class.Settings):
            variable = env_name(name, field.name)
            assert VARIABLE.match(variable), (
                f"{variable} cannot be set in a shell: a component with settings needs a name "
                "of letters, digits and '_' only"
            )

    def test_has_a_one_line_description(self, component_class: type[Component]) -> None:
        assert component_class.describe().strip(), (
            f"{component_class.__name__} needs a docstring: its first line is what `tierii plugins` shows"
        )

    def test_plugin_registers_it(
        self, plugin: object, component_class: type[Component], contract_environment: pytest.MonkeyPatch
    ) -> None:
        pm = make_plugin_manager(load_entry_points=False)
        if not pm.is_registered(plugin):
            pm.register(plugin, name="contract-test-plugin")
        pm.check_pending()
        registry = Registry(pm)
        assert registry.get(self.kind_key, component_class.name) is component_class, (
            f"the plugin's {REGISTRATION_HOOKS[self.kind_key]}() does not return {component_class.__name__}"
        )

    # -- its settings ------------------------------------------------------------------------

    def test_settings_is_a_frozen_attrs_class(self, component_class: type[Component]) -> None:
        settings_cls = component_class.Settings
        assert attrs.has(settings_cls), (
            f"{component_class.__name__}.Settings must be an attrs class (decorate it with @attrs.frozen)"
        )
        instance = settings_cls()
        target = settings_fields(settings_cls)[0].name if settings_fields(settings_cls) else "anything"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(instance, target, None)

    def test_settings_fields_have_defaults_and_help(self, component_class: type[Component]) -> None:
        for field in settings_fields(component_class.Settings):
            where = f"{component_class.__name__}.Settings.{field.name}"
            assert FIELD.match(field.name), f"{where}: field names are lowercase (they become TIERII_* names)"
            assert field.default is not attrs.NOTHING, (
                f"{where} has no default: every setting needs one, so that an unset variable works"
            )
            assert str(field.metadata.get("help", "")).strip(), (
                f"{where}: add metadata={{'help': '...'}}: the settings reference and `tierii check` show it"
            )

    def test_settings_are_read_from_tierii_variables(
        self, component_class: type[Component], contract_environment: pytest.MonkeyPatch
    ) -> None:
        defaults = component_class.Settings()
        written = {}
        for field in settings_fields(component_class.Settings):
            text = as_variable_text(getattr(defaults, field.name))
            if text is not None:
                variable = env_name(component_class.name, field.name)
                contract_environment.setenv(variable, text)
                written[field.name] = variable
        loaded = SettingsReader().load(component_class.Settings, component_class.name)
        for field_name, variable in written.items():
            assert getattr(loaded, field_name) == getattr(defaults, field_name), (
                f"{variable}={as_variable_text(getattr(defaults, field_name))!r} did not give back the "
                f"default {getattr(defaults, field_name)!r}: use a field type the core reads "
                "(str, int, float, bool, Path, Secret, or give the field a converter)"
            )

    def test_bad_setting_values_name_their_variable(
        self, component_class: type[Component], contract_environment: pytest.MonkeyPatch
    ) -> None:
        for field in settings_fields(component_class.Settings):
            bad = _CHECKED_TYPES.get(_plain_type(field.type))
            if bad is None:
                continue
            variable = env_name(component_class.name, field.name)
            contract_environment.setenv(variable, bad)
            with pytest.raises(SettingsError) as caught:
                SettingsReader().load(component_class.Settings, component_class.name)
            assert variable in str(caught.value)
            contract_environment.delenv(variable)
