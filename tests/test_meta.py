"""Meta-tests, as datasette has: every hook is documented and tested; the docs' sources hold."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
from pathlib import Path

import attrs
import pytest

from tierii_core import hookspecs
from tierii_core.plugins import make_plugin_manager
from tierii_core.settings import CoreSettings, env_name

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOKS = list(hookspecs.__all__)


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    return _load(DOCS / "_mkdocs" / "reference.py", "tierii_docs_reference")


def test_all_lists_exactly_the_hookspecs():
    pm = make_plugin_manager(load_entry_points=False)
    specs = {name for name in dir(pm.hook) if name.startswith("tierii_") and getattr(pm.hook, name).spec}
    assert set(HOOKS) == specs


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook, reference):
    function = getattr(hookspecs, hook)
    doc = inspect.getdoc(function) or ""
    assert doc, f"{hook} has no docstring"
    for parameter in inspect.signature(function).parameters:
        assert f":param {parameter}:" in doc, f"{hook}: document parameter {parameter!r}"
    rendered = reference.hook_reference()
    assert f"### `{hook}`" in rendered
    assert reference._docstring(doc).splitlines()[0] in rendered
    assert "<!-- tierii:hook-reference -->" in (DOCS / "hooks.md").read_text(encoding="utf-8")


def _test_functions() -> set[str]:
    names = set()
    for path in [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/*/tests/test_*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {
            n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        }
    return names


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook):
    assert f"test_hook_{hook}" in _test_functions(), f"write test_hook_{hook} (see tests/test_hooks.py)"


def test_settings_reference_lists_every_core_setting(reference):
    rendered = reference.settings_reference()
    for field in attrs.fields(CoreSettings):
        assert f"`{env_name(None, field.name)}`" in rendered
    assert "`TIERII_OUTBOX_DIR`" in rendered
    assert "<!-- tierii:settings-reference -->" in (DOCS / "settings.md").read_text(encoding="utf-8")


def test_pages_the_readme_links_to_exist():
    for page in ("plugins.md", "hooks.md", "settings.md"):
        assert (DOCS / page).is_file(), page


def test_tutorial_includes_resolve(reference):
    hooks = _load(DOCS / "_mkdocs" / "hooks.py", "tierii_docs_hooks")
    for page in DOCS.glob("*.md"):
        for match in hooks.INCLUDE.finditer(page.read_text(encoding="utf-8")):
            assert hooks.include(match).strip(), f"{page.name}: {match.group(0)} includes nothing"
