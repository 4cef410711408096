"""The entry points are remembered between commands, and found again whenever what is
installed changes: a new distribution, one removed, an entry_points.txt rewritten."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tierii_core import entry_points as cache


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TIERII_NO_ENTRY_POINT_CACHE", raising=False)
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


def install(site: Path, module: str, target: str | None = None) -> Path:
    (site / f"{module}.py").write_text("VALUE = 42\n")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[tierii]\n{module} = {target or module}\n")
    return info


def names() -> list[str]:
    return [ep.name for ep in cache.entry_points() if ep.name.startswith("plug")]


def test_a_second_command_reads_the_cache_and_an_install_or_removal_is_seen(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "plug_one")
    assert names() == ["plug_one"]
    scans: list[int] = []
    real_scan = cache._scan
    monkeypatch.setattr(cache, "_scan", lambda: (scans.append(1), *real_scan())[1:])
    assert names() == ["plug_one"] and scans == []  # from the cache
    second = install(site, "plug_two")
    assert sorted(names()) == ["plug_one", "plug_two"] and scans == [1]  # the directory changed
    for path in second.iterdir():
        path.unlink()
    second.rmdir()
    assert names() == ["plug_one"] and scans == [1, 1]


def test_an_entry_points_file_rewritten_in_place_is_read_again(site: Path) -> None:
    info = install(site, "plug_three")
    (ep,) = [ep for ep in cache.entry_points() if ep.name == "plug_three"]
    assert ep.load().VALUE == 42
    (info / "entry_points.txt").write_text("[tierii]\nplug_three = plug_three:VALUE\n")
    (ep,) = [ep for ep in cache.entry_points() if ep.name == "plug_three"]
    assert ep.value == "plug_three:VALUE" and ep.load() == 42


def test_a_corrupt_or_foreign_cache_file_means_a_scan_never_an_error(site: Path) -> None:
    install(site, "plug_four")
    names()
    (file,) = (Path(site.parent) / "cache" / "tierii").glob("entry-points-*.json")
    file.write_text("{not json")
    assert names() == ["plug_four"]
    data = json.loads(file.read_text())
    data["executable"] = "/some/other/python"
    data["entry_points"] = []
    file.write_text(json.dumps(data))
    assert names() == ["plug_four"]


def test_help_does_not_import_importlib_metadata_once_the_cache_is_warm(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from tierii_core.cli import main
        sys.argv = ["tierii", "--help"]
        try:
            main()
        except SystemExit:
            pass
        print("importlib.metadata" in sys.modules, file=sys.stderr)
        """
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    work = tmp_path / "elsewhere"  # the current directory is on sys.path for `python -c`
    work.mkdir()
    runs = []
    for _ in range(2):
        runs.append(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=work)
        )
        (work / ".tierii").mkdir(exist_ok=True)  # a command wrote there: no plugin was installed
    first, second = (run.stderr.strip().splitlines()[-1] for run in runs)
    assert runs[0].stdout == runs[1].stdout and "Commands:" in runs[1].stdout  # the same help
    assert (first, second) == ("True", "False")
