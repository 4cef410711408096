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
    page = (DOCS / "hooks.md").read_text(encoding="utf-8")
    assert f"### `{hook}`" in page and reference._docstring(doc).splitlines()[0] in page


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
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    for field in attrs.fields(CoreSettings):
        assert f"`{env_name(None, field.name)}`" in page  # on GitHub too, without a docs build


def test_pages_the_readme_links_to_exist():
    for page in ("plugins.md", "hooks.md", "settings.md"):
        assert (DOCS / page).is_file(), page


@pytest.fixture(scope="module")
def pages():
    return _load(DOCS / "_mkdocs" / "pages.py", "tierii_docs_pages")


def _settings_unless_every_plugin(pages):
    """The settings reference lists every plugin's settings: checked where all are installed
    (tox -e docs), left out elsewhere (tox -e core has none)."""
    missing = pages.missing_plugins()
    return lambda region: region.target == "settings-reference" and bool(missing)


def test_pages_show_the_code_of_the_files_they_include_and_it_is_current(pages):
    found = pages.problems(skip=_settings_unless_every_plugin(pages))
    assert not found, "\n".join(found)
    regions = [
        r for page in pages.pages() for r in pages.scan(page.read_text(encoding="utf-8"), page.name)[0]
    ]
    included = {r.target for r in regions if r.kind == "include"}
    assert "tierii_core/plugin_template/tierii_skeleton/plugin.py" in included
    tutorial = (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert "def tierii_contact_sources()" in tutorial  # readable on GitHub, without a build


def test_a_mangled_or_unresolved_include_is_refused(pages):
    mangled = '```python\n--8 < --"tierii_core/plugin_template/tierii_skeleton/plugin.py"\n```\n'
    assert "looks like an include but is not one" in "".join(pages.check(mangled, "p.md"))
    assert pages.check('--8<-- "docs/examples/first-plugin.sh:venv"\n', "p.md")
    assert pages.check("<!--include: x.py -->\n", "p.md")
    missing = "<!-- include: no/such/file.py -->\n<!-- end include -->\n"
    assert "no file no/such/file.py" in "".join(pages.check(missing, "p.md"))
    no_section = "<!-- include: docs/examples/first-plugin.sh#nope -->\n<!-- end include -->\n"
    assert "no section [start:nope]" in "".join(pages.check(no_section, "p.md"))
    unclosed = "<!-- include: docs/examples/first-plugin.sh#venv -->\n```sh\n```\n"
    assert "has no <!-- end include -->" in "".join(pages.check(unclosed, "p.md"))


def test_a_block_that_differs_from_its_file_is_stale_and_the_message_says_how_to_regenerate(pages):
    page = "<!-- include: docs/examples/first-plugin.sh#new -->\n```sh\ntierii plugins new crm\n```\n"
    page += "<!-- end include -->\n"
    [problem] = pages.check(page, "p.md")
    assert "p.md:1: include docs/examples/first-plugin.sh#new: not current" in problem
    assert "python docs/_mkdocs/pages.py --write" in problem
    refreshed = pages.refresh(page, "p.md")
    assert pages.check(refreshed, "p.md") == []
    assert "cd tierii-crm" in refreshed


def test_the_docs_build_fails_on_an_include_it_does_not_resolve(pages):
    pytest.importorskip("mkdocs", reason="the docs env (tox -e docs) runs this with mkdocs")
    from types import SimpleNamespace

    from mkdocs.exceptions import PluginError

    hooks = _load(DOCS / "_mkdocs" / "hooks.py", "tierii_docs_hooks")
    page = SimpleNamespace(file=SimpleNamespace(src_uri="plugins.md"))
    with pytest.raises(PluginError, match="looks like an include"):
        hooks.on_page_markdown('```python\n--8 < --"x.py"\n```\n', page, None, None)
    with pytest.raises(PluginError, match=r"no file x\.py"):
        hooks.on_page_markdown("<!-- include: x.py -->\n<!-- end include -->\n", page, None, None)
    shown = hooks.on_page_markdown((DOCS / "plugins.md").read_text(encoding="utf-8"), page, None, None)
    assert "<!-- include" not in shown and "def tierii_contact_sources()" in shown


def test_the_hook_and_objects_references_in_hooks_md_are_current(pages):
    page = DOCS / "hooks.md"
    found = pages.check(page.read_text(encoding="utf-8"), "docs/hooks.md")
    assert not found, "\n".join(found) + "\nregenerate: python docs/_mkdocs/pages.py --write"
    regions = {r.target for r in pages.scan(page.read_text(encoding="utf-8"), "hooks.md")[0]}
    assert {"hook-reference", "objects-reference"} <= regions


def test_the_settings_reference_in_settings_md_is_current(pages):
    missing = pages.missing_plugins()
    if missing:
        pytest.skip(f"needs every plugin installed (tox -e docs runs it); missing: {', '.join(missing)}")
    found = pages.check((DOCS / "settings.md").read_text(encoding="utf-8"), "docs/settings.md")
    assert not found, (
        "\n".join(found) + "\nregenerate: python docs/_mkdocs/pages.py --write (or tox -e docs-write)"
    )


@pytest.mark.parametrize(
    "name",
    [
        "RunInfo",
        "RunSummary",
        "Outcome",
        "Status",
        "ErrorKind",
        "Message",
        "Contact",
        "Rejected",
        "Credentials",
        "CheckStep",
        "TemplateEngine",
        "CompiledTemplate",
        "SettingsReader",
    ],
)
def test_hooks_md_documents_the_objects_the_hooks_pass(name):
    page = (DOCS / "hooks.md").read_text(encoding="utf-8")
    assert f"#### `{name}`" in page, f"document {name} in docs/hooks.md (objects-reference)"


def test_hooks_md_says_what_observers_see_and_what_the_html_file_holds():
    page = (DOCS / "hooks.md").read_text(encoding="utf-8")
    assert "`compile(source: str, *, origin: str, escape_html: bool) -> CompiledTemplate`" in page
    assert "`render(context: Mapping[str, Any]) -> str`" in page
    observers = page[page.index("## What observers see") : page.index("## The `--html` file")]
    assert "empty list" in observers  # a resumed run's batches of records done earlier
    assert "`pending`" in observers and "stops early" in observers  # an interrupted run
    assert "`excluded` records" in observers
    html = page[page.index("## The `--html` file") : page.index("## The hooks")]
    assert "HTML body only: no header lines" in html


def test_every_field_of_the_values_the_hooks_pass_is_documented(reference):
    from tierii_core import models

    page = (DOCS / "hooks.md").read_text(encoding="utf-8")
    for cls in (models.Outcome, models.RunInfo, models.RunSummary, models.Message, models.Contact):
        section = page[page.index(f"#### `{cls.__name__}`") :]
        for field in attrs.fields(cls):
            assert f"| `{field.name}` |" in section, f"{cls.__name__}.{field.name}"


def test_the_regeneration_command_rewrites_a_stale_reference(pages):
    stale = "<!-- generated: hook-reference -->\n### `old`\n<!-- end generated -->\n"
    [problem] = pages.check(stale, "docs/hooks.md")
    assert "not current (run python docs/_mkdocs/pages.py --write)" in problem
    assert pages.check(pages.refresh(stale, "docs/hooks.md"), "docs/hooks.md") == []
    assert "unknown" in "".join(pages.check("<!-- generated: nope -->\n<!-- end generated -->\n", "p.md"))
