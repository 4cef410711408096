"""mkdocs hook: pages from docs/ itself, checked current.

- Pages: every ``*.md`` (and ``*.png``) under docs/ (not this folder, not ``examples/``), at its path there.
- Code from tested files is in the pages as Markdown, between ``<!-- include: PATH -->`` and
  ``<!-- end include -->`` (pages.py): the build fails when such a block is not identical to
  its file, when an include does not resolve, or when a line looks like an include marker and
  is not one (``--8 < --``, the mangled ``--8<--``). The markers are left out of the site.
- The settings, hook and objects references generated from the code (reference.py) are in
  the pages the same way (``<!-- generated: NAME -->``), checked the same way: they cannot drift.
- Nav entries with ``*`` are globs over docs/; an entry matching nothing is dropped.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
ROOT = DOCS.parent
SKIPPED = {HERE.name, "examples"}


def _pages() -> list[Path]:
    """The pages and the pictures they show (the benchmarks' chart)."""
    return sorted(
        p
        for pattern in ("*.md", "*.png")
        for p in DOCS.rglob(pattern)
        if not (set(p.relative_to(DOCS).parts[:-1]) & SKIPPED)
        and not p.relative_to(DOCS).parts[0].startswith(".")
    )


def _expand(items: list[Any]) -> list[Any]:
    expanded = []
    for item in items:
        title, value = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(value, list):
            value = _expand(value)
        elif isinstance(value, str) and "*" in value:
            matches = [p.relative_to(DOCS).as_posix() for p in sorted(DOCS.glob(value))]
            if not matches:
                continue
            value = matches[0] if len(matches) == 1 and "/" not in value else matches
        expanded.append({title: value} if title is not None else value)
    return expanded


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.nav = _expand(config.nav or [])
    config.watch.append(str(DOCS))
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    gathered = Files([])
    for path in _pages():
        gathered.append(
            File(
                path.relative_to(DOCS).as_posix(),
                src_dir=str(DOCS),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return gathered


def _pages_module() -> Any:
    spec = importlib.util.spec_from_file_location("tierii_docs_pages", HERE / "pages.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    pages = _pages_module()
    problems = pages.check(markdown, f"docs/{page.file.src_uri}")
    if problems:
        raise PluginError("\n".join(problems) + f"\nregenerate the blocks with: {pages.COMMAND}")
    return pages.strip_markers(markdown)
