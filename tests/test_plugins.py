"""The plugin manager with real entry points (distributions written to a temporary sys.path entry)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from tierii_core.errors import PluginError
from tierii_core.plugins import DEFAULT_PLUGINS, Registry, make_plugin_manager, plugin_rows


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a one-module distribution with a `tierii` entry point onto sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def _install(source: str, entry_point: str | None = None, version: str = "1.2.3") -> str:
        module = f"plug_{uuid.uuid4().hex[:8]}"
        entry_point = entry_point or module.replace("_", "-")
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[tierii]\n{entry_point} = {module}\n")
        return entry_point

    return _install


PROVIDER = """
from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider

class Null(DeliveryProvider):
    '''Drops everything.'''
    name = "{name}"

@hookimpl
def tierii_delivery_providers():
    return [Null]
"""


def test_defaults_then_entry_points_with_version_and_hooks(install) -> None:
    name = install(PROVIDER.format(name="null"))
    pm = make_plugin_manager()
    rows = {row["name"]: row for row in plugin_rows(pm, Registry(pm))}
    assert rows[name]["version"] == "1.2.3"
    assert rows[name]["hooks"] == ["tierii_delivery_providers"]
    assert rows[name]["components"] == ["provider:null"]
    assert rows["outbox"]["default"] is True
    names = [n for n, _ in pm.list_name_plugin()]
    assert names.index("outbox") < names.index(name)  # defaults first, so plugins override them


def test_nothing_is_loaded_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tierii_core.cli, tierii_core.plugins;"
        "print(any(m.startswith('tierii_csv') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_import_error_names_the_entry_point_and_the_escape_hatch(install) -> None:
    name = install("import no_such_module_anywhere\n")
    with pytest.raises(PluginError) as caught:
        make_plugin_manager()
    message = str(caught.value)
    assert f"plugin '{name}' (entry point {name} =" in message
    assert "ModuleNotFoundError" in message
    assert f"TIERII_DISABLE_PLUGINS={name}" in message
    assert "TIERII_LOAD_PLUGINS=''" in message


def test_misspelt_hook_is_an_error_naming_the_plugin(install) -> None:
    name = install(
        "from tierii_core import hookimpl\n@hookimpl\ndef tierii_delivery_provider():\n    return []\n"
    )
    with pytest.raises(
        PluginError, match=rf"plugin '{name}' \(entry point .*unknown hook 'tierii_delivery_provider'"
    ):
        make_plugin_manager()


def test_hookimpl_argument_the_spec_lacks_is_an_error(install) -> None:
    name = install(
        "from tierii_core import hookimpl\n@hookimpl\ndef tierii_run_started(run, colour):\n    pass\n"
    )
    with pytest.raises(PluginError, match=rf"(?s)plugin '{name}' .*is invalid.*colour"):
        make_plugin_manager()


def test_escape_hatches(install, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = install("raise RuntimeError('boom')\n")
    good = install(PROVIDER.format(name="null"))
    monkeypatch.setenv("TIERII_DISABLE_PLUGINS", broken)
    names = loaded(make_plugin_manager())
    assert good in names and broken not in names
    monkeypatch.delenv("TIERII_DISABLE_PLUGINS")
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", "")
    assert loaded(make_plugin_manager()) == {m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS}
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", good)
    assert good in loaded(make_plugin_manager())


def loaded(pm) -> set[str]:
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def test_a_default_plugin_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_DISABLE_PLUGINS", "outbox")
    pm = make_plugin_manager(load_entry_points=False)
    assert [i.name for i in Registry(pm).components("provider")] == []


def test_two_components_with_one_name_are_refused_naming_both_plugins(install) -> None:
    first = install(PROVIDER.format(name="twin"))
    second = install(PROVIDER.format(name="twin"))
    pm = make_plugin_manager()
    with pytest.raises(PluginError) as caught:
        Registry(pm)
    message = str(caught.value)
    assert "two plugins register a provider named 'twin'" in message
    assert first in message and second in message


def test_a_component_that_is_not_a_subclass_is_refused(install) -> None:
    install(
        "from tierii_core import hookimpl\n@hookimpl\ndef tierii_contact_sources():\n    return [object]\n"
    )
    with pytest.raises(PluginError, match="not a ContactSource subclass"):
        Registry(make_plugin_manager())


def test_trace_writes_hook_calls_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("TIERII_TRACE_PLUGINS", "1")
    Registry(make_plugin_manager(load_entry_points=False))
    assert "tierii_delivery_providers" in capsys.readouterr().err


def test_claiming_and_lookup_errors_are_clear() -> None:
    registry = Registry(make_plugin_manager(load_entry_points=False))
    with pytest.raises(
        PluginError, match=r"no installed source handles 'people.csv'.*pip install tierii-csv"
    ):
        registry.claiming("source", "people.csv")
    with pytest.raises(PluginError, match=r"no provider named 'smpt' is installed \(installed: outbox\)"):
        registry.get("provider", "smpt")
    assert registry.claiming("engine", "Welcome.Mustache").name == "mustache"


def test_plugins_can_add_commands(install, tmp_path) -> None:
    import subprocess
    import sys

    install(
        """
        import click
        from tierii_core import hookimpl

        @hookimpl
        def tierii_register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello from a plugin")
        """
    )
    site = str(tmp_path / "site")
    env = {"PYTHONPATH": site, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "hello"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from a plugin\n"
