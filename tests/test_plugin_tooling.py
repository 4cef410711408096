"""`tierii plugins [new]`, `tierii install`, `tierii uninstall`, and the skeleton they ship."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.cli.plugins import PluginNames, template_root

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }


def test_plugins_lists_as_before(monkeypatch):
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", "")
    rows = json.loads(run("plugins", "--json").output)
    assert {"mustache", "outbox"} <= {r["name"] for r in rows}
    table = run("plugins")
    assert table.exit_code == 0 and "mustache (default)" in table.output


def test_plugins_template_folder_is_the_shipped_skeleton():
    shipped = Path(str(template_root()))
    assert shipped == ROOT / "tierii_core" / "plugin_template"
    assert tree(ROOT / "plugins" / "_template") == tree(shipped)


@pytest.mark.parametrize(
    ("typed", "component", "distribution", "package", "camel"),
    [
        ("crm", "crm", "tierii-crm", "tierii_crm", "Crm"),
        ("tierii-my-crm", "my_crm", "tierii-my-crm", "tierii_my_crm", "MyCrm"),
        ("hub_spot2", "hub_spot2", "tierii-hub-spot2", "tierii_hub_spot2", "HubSpot2"),
    ],
)
def test_names_derived_from_what_the_user_typed(typed, component, distribution, package, camel):
    assert PluginNames.parse(typed) == PluginNames(component, distribution, package, camel)


@pytest.mark.parametrize("bad", ["Bad Name", "2crm", "crm-", "tierii", "crm!", ""])
def test_bad_names_exit_2(bad, tmp_path):
    out = tmp_path / "out"
    result = run("plugins", "new", bad, "--dir", str(out))
    assert result.exit_code == 2 and "NAME" in result.output
    assert not out.exists()


def test_new_copies_the_skeleton_under_the_new_name(tmp_path):
    result = run("plugins", "new", "my-crm", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    made = tmp_path / "tierii-my-crm"
    files = tree(made)
    assert set(files) == {
        "README.md",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_my_crm_contract.py",
        "tests/test_my_crm_source.py",
        "tierii_my_crm/__init__.py",
        "tierii_my_crm/plugin.py",
        "tierii_my_crm/source.py",
    }
    assert not [name for name, data in files.items() if b"skeleton" in data.lower()]
    assert 'tierii-my-crm = "tierii_my_crm.plugin"' in files["pyproject.toml"].decode()
    assert "class MyCrmSource(ContactSource)" in files["tierii_my_crm/source.py"].decode()
    assert 'name = "my_crm"' in files["tierii_my_crm/source.py"].decode()
    assert "TIERII_MY_CRM_ENCODING" in files["README.md"].decode()


def test_new_refuses_an_existing_folder(tmp_path):
    (tmp_path / "tierii-crm").mkdir()
    result = run("plugins", "new", "crm", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "already exists" in result.output


def test_the_new_plugins_own_tests_pass(tmp_path):
    # the skeleton's one dependency beyond tierii-core; tests/test_tutorial.py installs it for real
    pytest.importorskip(
        "email_validator", reason="the new plugin needs email-validator (pip install email-validator)"
    )
    assert run("plugins", "new", "crm", "--dir", str(tmp_path)).exit_code == 0
    plugin = tmp_path / "tierii-crm"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=plugin,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(plugin)},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout and "failed" not in completed.stdout


def test_install_runs_pip_in_this_interpreter():
    completed = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "install", "--no-index", "tierii-no-such-plugin"],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1
    assert "No matching distribution found for tierii-no-such-plugin" in completed.stderr


def test_uninstall_passes_yes_to_pip():
    completed = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "uninstall", "-y", "tierii-no-such-plugin"],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0
    assert "Skipping tierii-no-such-plugin as it is not installed" in completed.stderr


def test_install_needs_arguments():
    assert run("install").exit_code == 2
