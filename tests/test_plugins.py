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


# -- a broken plugin is named, with the way out, and never takes the diagnostics down ---------


def tierii(tmp_path: Path, *args: str, **env: str):
    """`tierii` as a user runs it (main(), so plugins add commands), with the test plugins."""
    import subprocess
    import sys

    environment = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin", **env}
    return subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
    )


def test_plugins_lists_a_broken_plugin_with_its_error_and_exits_0(install, tmp_path) -> None:
    broken = install("raise RuntimeError('boom at import')\n")
    good = install(PROVIDER.format(name="null"))
    listed = tierii(tmp_path, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stdout + listed.stderr
    assert f"BROKEN {broken} 1.2.3" in listed.stdout
    assert "failed to import: RuntimeError: boom at import" in listed.stdout
    assert f"TIERII_DISABLE_PLUGINS={broken}" in listed.stdout
    assert f"{good} 1.2.3" in listed.stdout and "provider:null" in listed.stdout
    assert f"broken: {broken} (TIERII_TRACE_PLUGINS=1 shows the tracebacks)" in listed.stdout

    traced = tierii(tmp_path, "plugins", TIERII_TRACE_PLUGINS="1")
    assert traced.returncode == 0
    assert "Traceback (most recent call last)" in traced.stdout
    assert "raise RuntimeError('boom at import')" in traced.stdout

    import json

    as_json = tierii(tmp_path, "plugins", "--json")
    assert as_json.returncode == 0
    rows = {row["name"]: row for row in json.loads(as_json.stdout)}
    assert "RuntimeError: boom at import" in rows[broken]["error"]
    assert rows[good]["error"] is None

    sending = tierii(tmp_path, "check")
    assert sending.returncode == 2  # a command that needs the plugins still refuses to run
    assert f"plugin '{broken}'" in sending.stderr and "Traceback" not in sending.stderr


def test_a_plugin_whose_commands_hook_raises_breaks_no_other_command(install, tmp_path) -> None:
    broken = install(
        """
        from tierii_core import hookimpl

        @hookimpl
        def tierii_register_commands(cli):
            raise ValueError("no click today")
        """
    )
    for args in (["--help"], ["uninstall", "--help"], ["plugins"]):
        result = tierii(tmp_path, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr, args
    listed = tierii(tmp_path, "plugins").stdout
    assert f"BROKEN {broken}" in listed
    assert "tierii_register_commands raised ValueError: no click today" in listed
    status = tierii(tmp_path, "check")
    assert status.returncode == 2
    assert f"plugin '{broken}'" in status.stderr and "no click today" in status.stderr
    assert f"tierii uninstall {broken.replace('-', '_')} -y" in status.stderr  # its distribution
    assert "Traceback" not in status.stderr
    unknown = tierii(tmp_path, "hello")
    assert unknown.returncode == 2 and f"broken plugins may have added it: {broken}" in unknown.stderr


def test_plugin_variables_in_the_settings_file_are_honoured(install, tmp_path, monkeypatch) -> None:
    broken = install("raise RuntimeError('boom')\n")
    (tmp_path / "work").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / "work")
    Path(".env").write_text(f"TIERII_DISABLE_PLUGINS={broken}\n")
    assert broken not in loaded(make_plugin_manager())
    Path(".env").write_text("TIERII_LOAD_PLUGINS=\nTIERII_TRACE_PLUGINS=1\n")
    assert loaded(make_plugin_manager()) == {m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS}

    (tmp_path / "settings.env").write_text(f"TIERII_DISABLE_PLUGINS={broken}\n")
    result = tierii(tmp_path, "--env-file", "settings.env", "check")
    assert f"plugin '{broken}'" not in result.stderr, result.stderr
    assert "[core]" in result.stdout
    without = tierii(tmp_path, "check")
    assert without.returncode == 2 and f"plugin '{broken}'" in without.stderr


def test_a_misspelt_hook_gets_did_you_mean(install) -> None:
    install("from tierii_core import hookimpl\n@hookimpl\ndef tierii_delivery_provider():\n    return []\n")
    with pytest.raises(PluginError, match="did you mean 'tierii_delivery_providers'"):
        make_plugin_manager()


def test_a_misspelt_hook_parameter_gets_did_you_mean(install) -> None:
    install(
        "from tierii_core import hookimpl\n@hookimpl\ndef tierii_batch_finished(run, outcome):\n    pass\n"
    )
    with pytest.raises(
        PluginError, match="tierii_batch_finished has no parameter 'outcome': did you mean 'outcomes'"
    ):
        make_plugin_manager()


def test_a_non_component_is_refused_in_english_with_the_way_out(install) -> None:
    name = install(
        "from tierii_core import hookimpl\n"
        "@hookimpl\ndef tierii_template_engines():\n    return ['not a class']\n"
    )
    with pytest.raises(PluginError) as caught:
        Registry(make_plugin_manager())
    message = str(caught.value)
    assert f"plugin '{name}' (entry point {name} =" in message
    assert "registered 'not a class' as a template engine, but it is not a TemplateEngine subclass" in message
    assert f"TIERII_DISABLE_PLUGINS={name}" in message and "tierii uninstall" in message


def test_a_registration_hook_that_raises_is_named(install) -> None:
    name = install("from tierii_core import hookimpl\n@hookimpl\ndef tierii_contact_sources():\n    1 / 0\n")
    with pytest.raises(
        PluginError, match=rf"plugin '{name}' .*tierii_contact_sources raised ZeroDivisionError"
    ):
        Registry(make_plugin_manager())
    pm = make_plugin_manager()
    registry = Registry(pm, tolerant=True)  # what `tierii plugins` does
    assert name in pm.broken and name not in {info.plugin for info in registry.components()}
    assert registry.get("engine", "mustache")  # the others are all there


def test_the_way_out_is_the_documented_command(install) -> None:
    install("raise RuntimeError('boom')\n")
    with pytest.raises(PluginError) as caught:
        make_plugin_manager()
    assert "tierii uninstall" in str(caught.value) and "pip uninstall" not in str(caught.value)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "then `pip uninstall` it" not in readme


def test_an_observer_that_raised_is_named_in_the_summary(capsys) -> None:
    from datetime import datetime, timezone

    from tierii_core import hookimpl
    from tierii_core.models import RunInfo, RunSummary
    from tierii_core.observe import notify

    class Broken:
        @hookimpl
        def tierii_batch_finished(self, run, outcomes):
            raise KeyError("region")

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Broken(), name="tierii-metrics")
    run = RunInfo("spring", "c.csv", "t.mustache", ("outbox",), False, datetime.now(timezone.utc))
    notify(pm, "tierii_run_started", run=run)
    for _ in range(3):
        notify(pm, "tierii_batch_finished", run=run, outcomes=[])
    notify(pm, "tierii_run_finished", run=run, summary=RunSummary("spring", sent=2))
    out = capsys.readouterr().out
    assert (
        "observer failed (the run went on without it): plugin 'tierii-metrics' in "
        "tierii_batch_finished: KeyError: 'region' (3 times)\n" in out
    )


def test_plugins_output_that_is_not_a_terminal_is_complete(install, tmp_path) -> None:
    name = install(
        """
        from tierii_core import hookimpl

        @hookimpl
        def tierii_run_started(run):
            pass

        @hookimpl
        def tierii_plugin_settings():
            return []
        """,
        entry_point="a-plugin-with-a-rather-long-name-indeed",
    )
    listed = tierii(tmp_path, "plugins")
    assert listed.returncode == 0
    assert name in listed.stdout
    assert "tierii_plugin_settings, tierii_run_started" in listed.stdout
    assert "…" not in listed.stdout
