"""The shipped packs' parsed TOML is kept in the user's cache between commands: the cached
data gives the same packs as parsing, and an edited pack file, or a cache that is damaged,
means parsing again (never a stale or a broken pack)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tierii_cannabis import packs


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped packs, read through a cache in a directory of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "packs"
    shutil.copytree(packs.SHIPPED, folder)
    monkeypatch.setattr(packs, "SHIPPED", folder)
    return folder


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "tierii").glob("cannabis-packs-*.json"))


def parsed_without_cache(folder: Path) -> list[packs.PackFile]:
    return [
        packs.read_pack_file(path, f"tierii_cannabis/packs/{path.name}")
        for path in sorted(folder.glob("*.toml"))
    ]


def test_the_cache_gives_the_packs_parsing_gives(
    shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = packs.shipped_files()
    assert len(cache_files(tmp_path)) == 1
    assert first == parsed_without_cache(shipped)

    def no_parsing(*args: object) -> None:
        raise AssertionError("a cached pack was parsed again")

    monkeypatch.setattr(packs, "_parsed", no_parsing)
    assert packs.shipped_files() == first


def test_an_edited_pack_is_parsed_again(shipped: Path, tmp_path: Path) -> None:
    packs.shipped_files()
    edited = shipped / "cannabis-ca.toml"
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace('title = "', 'title = "Edited ', 1), encoding="utf-8")
    by_name = {pack.name: pack for pack in packs.shipped_files()}
    assert by_name["cannabis-ca"].data["title"].startswith("Edited ")


@pytest.mark.parametrize("damage", ["", "{not json", '{"stamp": [], "data": {}}', '{"stamp": 1}', "[]"])
def test_a_damaged_cache_means_parsing_again(shipped: Path, tmp_path: Path, damage: str) -> None:
    expected = packs.shipped_files()
    (cache,) = cache_files(tmp_path)
    cache.write_text(damage, encoding="utf-8")
    assert packs.shipped_files() == expected


def test_an_unwritable_cache_is_no_error(shipped: Path, tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("a file where the cache directory would be", encoding="utf-8")
    assert packs.shipped_files() == parsed_without_cache(shipped)
