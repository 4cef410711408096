"""The parts of the pages that come from the repository, committed as Markdown and kept current.

A page must read right where it is shown without a docs build (GitHub), so code from tested
files and the references generated from the code are written into the page itself, between
two HTML comments (invisible on GitHub; the docs build drops them)::

    <!-- include: PATH -->             the file PATH (from the repository root), as a code block
    <!-- include: PATH#SECTION -->     only the lines between "[start:SECTION]" and "[end:SECTION]"
    <!-- end include -->

    <!-- generated: NAME -->           a reference made by reference.py (NAMES below)
    <!-- end generated -->

``python docs/_mkdocs/pages.py --write`` rewrites every region from its source (the settings
reference needs every plugin of plugins/ installed: ``tox -e docs-write`` has them); without
``--write`` it lists what is stale and exits 1. The docs build and tests/test_meta.py fail on
a stale region, one that does not resolve, and anything that looks like an include marker but
is not one (a formatter once turned ``--8<--`` into ``--8 < --``: the tutorial showed no code
and the build passed).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
ROOT = DOCS.parent
COMMAND = "python docs/_mkdocs/pages.py --write"
#: the pages: every *.md under docs/ but the build's own folder and the example files
SKIPPED = {HERE.name, "examples"}

BEGIN = re.compile(r"^<!-- (?P<kind>include|generated): (?P<target>\S+) -->$")
END = re.compile(r"^<!-- end (?P<kind>include|generated) -->$")
#: what an include or region marker looks like to a reader, spelled right or not: a line
#: matching this and not BEGIN/END is refused (pymdownx's --8<--, mangled or not, included)
SUSPICIOUS = re.compile(
    r"-\s*-\s*8\s*<\s*-\s*-"  # --8<--, however spaced
    r"|<!--\s*(?:include|generated|end\s+(?:include|generated)|tierii:)",  # ours, misspelt
    re.I,
)
LANGUAGES = {
    ".py": "python",
    ".toml": "toml",
    ".sh": "sh",
    ".json": "json",
    ".yml": "yaml",
    ".md": "markdown",
}
#: generated region name -> function of reference.py returning its Markdown
NAMES = {
    "hook-reference": "hook_reference",
    "objects-reference": "objects_reference",
    "settings-reference": "settings_reference",
}


class RegionError(Exception):
    """A region that cannot be made: missing file or section, unknown name, plugins missing."""


def _module(name: str) -> ModuleType:
    """A sibling module (this folder is no package: mkdocs loads hooks.py by its path)."""
    qualified = f"tierii_docs_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, HERE / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def pages() -> list[Path]:
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if not (set(p.relative_to(DOCS).parts[:-1]) & SKIPPED)
        and not p.relative_to(DOCS).parts[0].startswith(".")
    )


def section(text: str, name: str, where: str) -> str:
    found = re.search(
        rf"^[^\n]*\[start:{re.escape(name)}\][^\n]*\n(?P<body>.*?)^[^\n]*\[end:{re.escape(name)}\]",
        text,
        re.M | re.S,
    )
    if found is None:
        raise RegionError(f"{where}: no section [start:{name}] ... [end:{name}] in it")
    return found["body"]


def code_block(text: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


def included(target: str) -> str:
    """The code block for ``PATH`` or ``PATH#SECTION``, section markers left out."""
    path_text, _, name = target.partition("#")
    path = ROOT / path_text
    if not path.is_file():
        raise RegionError(f"include {target}: no file {path_text} in the repository")
    text = path.read_text(encoding="utf-8")
    if name:
        text = section(text, name, f"include {target}")
    text = re.sub(r"^[^\n]*\[(?:start|end):[\w-]+\][^\n]*\n", "", text, flags=re.M)
    return code_block(text, LANGUAGES.get(path.suffix, ""))


def generated(name: str) -> str:
    if name not in NAMES:
        raise RegionError(f"generated {name}: unknown (known: {', '.join(NAMES)})")
    if name == "settings-reference" and (missing := missing_plugins()):
        raise RegionError(
            f"generated {name}: it lists every plugin's settings, and these are not installed: "
            f"{', '.join(missing)} (tox -e docs and tox -e docs-write install them all)"
        )
    return getattr(_module("reference"), NAMES[name])().strip("\n")


def expected(kind: str, target: str) -> str:
    return included(target) if kind == "include" else generated(target)


class Region:
    """One region of a page: its markers' line numbers (0-based) and what it names."""

    def __init__(self, kind: str, target: str, begin: int, end: int) -> None:
        self.kind, self.target, self.begin, self.end = kind, target, begin, end


def scan(text: str, where: str) -> tuple[list[Region], list[str]]:
    """The regions of a page, and the problems of its markers (unclosed, mangled...)."""
    lines = text.split("\n")
    regions, problems = [], []
    index = 0
    while index < len(lines):
        line = lines[index]
        begin = BEGIN.match(line)
        if begin:
            close = next((i for i in range(index + 1, len(lines)) if END.match(lines[i])), None)
            if close is None or END.match(lines[close])["kind"] != begin["kind"]:
                problems.append(f"{where}:{index + 1}: {line.strip()} has no <!-- end {begin['kind']} -->")
                index += 1
                continue
            regions.append(Region(begin["kind"], begin["target"], index, close))
            index = close + 1
            continue
        if SUSPICIOUS.search(line):
            problems.append(
                f"{where}:{index + 1}: {line.strip()!r} looks like an include but is not one "
                "(write <!-- include: PATH --> ... <!-- end include -->)"
            )
        index += 1
    return regions, problems


def check(text: str, where: str, skip: Callable[[Region], bool] = lambda region: False) -> list[str]:
    """Every problem of a page: bad markers, regions that do not resolve or are not current."""
    regions, problems = scan(text, where)
    lines = text.split("\n")
    for region in regions:
        if skip(region):
            continue
        label = f"{where}:{region.begin + 1}: {region.kind} {region.target}"
        try:
            wanted = expected(region.kind, region.target)
        except RegionError as exc:
            problems.append(f"{where}:{region.begin + 1}: {exc}")
            continue
        if "\n".join(lines[region.begin + 1 : region.end]).strip("\n") != wanted:
            problems.append(f"{label}: not current (run {COMMAND})")
    return problems


def refresh(text: str, where: str) -> str:
    """The page with every region rewritten from its source (markers must be sound)."""
    regions, problems = scan(text, where)
    if problems:
        raise RegionError("\n".join(problems))
    lines = text.split("\n")
    for region in reversed(regions):
        lines[region.begin + 1 : region.end] = ["", expected(region.kind, region.target), ""]
    return "\n".join(lines)


def strip_markers(text: str) -> str:
    """The page as the docs site shows it: the region markers left out."""
    return "\n".join(line for line in text.split("\n") if not (BEGIN.match(line) or END.match(line)))


def missing_plugins() -> list[str]:
    """The distributions in plugins/ that are not installed (the settings reference lists them all)."""
    from importlib import metadata

    missing = []
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        found = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        if pyproject.parent.name.startswith("_") or not found:
            continue
        try:
            metadata.distribution(found[1])
        except metadata.PackageNotFoundError:
            missing.append(found[1])
    return missing


def problems(skip: Callable[[Region], bool] = lambda region: False) -> list[str]:
    """Every problem of every page (what the tests and ``pages.py`` without --write report)."""
    found = []
    for page in pages():
        found += check(page.read_text(encoding="utf-8"), page.relative_to(ROOT).as_posix(), skip)
    return found


def main(argv: list[str]) -> int:
    write = "--write" in argv
    missing = missing_plugins()
    if missing:
        print(
            f"install every plugin first (the settings reference lists them all); missing: "
            f"{', '.join(missing)}. tox -e docs-write does it.",
            file=sys.stderr,
        )
        return 2
    if not write:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new = refresh(text, page.relative_to(ROOT).as_posix())
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"rewrote {page.relative_to(ROOT).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
