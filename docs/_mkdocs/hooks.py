"""mkdocs hook: pages from docs/ itself, generated references, and included tested files.

- Pages: every ``*.md`` (and ``*.png``) under docs/ (not this folder, not ``examples/``), at its path there.
- ``<!-- tierii:settings-reference -->`` and ``<!-- tierii:hook-reference -->`` lines become
  the references generated from the code (:mod:`reference`): they cannot drift.
- A line ``--8<-- "PATH"`` or ``--8<-- "PATH:SECTION"`` becomes the file at PATH (relative
  to the repository root), or the lines between ``--8<-- [start:SECTION]`` and
  ``--8<-- [end:SECTION]`` in it: the tutorial's code is the code the tests run.
- Nav entries with ``*`` are globs over docs/; an entry matching nothing is dropped.
"""

from __future__ import annotations

import importlib.util
import re
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
INCLUDE = re.compile(r'^(?P<indent>[ \t]*)--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$', re.M)
MARKERS = {
    "<!-- tierii:settings-reference -->": "settings_reference",
    "<!-- tierii:hook-reference -->": "hook_reference",
}


def _reference() -> Any:
    spec = importlib.util.spec_from_file_location("tierii_docs_reference", HERE / "reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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


def include(match: re.Match[str]) -> str:
    path = ROOT / match["path"]
    if not path.is_file():
        raise PluginError(f"--8<-- {match['path']}: no such file")
    text = path.read_text(encoding="utf-8")
    section = match["section"]
    if section:
        found = re.search(
            rf"^[^\n]*--8<-- \[start:{section}\][^\n]*\n(?P<body>.*?)^[^\n]*--8<-- \[end:{section}\]",
            text,
            re.M | re.S,
        )
        if found is None:
            raise PluginError(f"--8<-- {match['path']}: no section {section!r}")
        text = found["body"]
    text = re.sub(r"^[^\n]*--8<-- \[(start|end):[\w-]+\][^\n]*\n", "", text, flags=re.M)
    return "\n".join(match["indent"] + line if line else line for line in text.rstrip("\n").split("\n"))


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    reference = None
    for marker, function in MARKERS.items():
        if marker in markdown:
            reference = reference or _reference()
            markdown = markdown.replace(marker, getattr(reference, function)())
    return INCLUDE.sub(include, markdown)
