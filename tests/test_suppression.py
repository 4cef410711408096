"""Suppression list and `tierii suppress`: normalisation, domains, import/export."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.cli import cli
from tierii_core.suppression import SuppressionList, normalise


def tierii(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("entry", "normal"),
    [
        ("Ana@Example.COM", "ana@example.com"),
        ("  ana@bücher.example ", "ana@xn--bcher-kva.example"),
        ("@Example.com.", "@example.com"),
    ],
)
def test_normalise(entry: str, normal: str) -> None:
    assert normalise(entry) == normal


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@", "a b@example.com", "<a@example.com>"])
def test_bad_entries_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise(bad)


local = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='@<>,;"'), min_size=1, max_size=20
)
label = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=12).filter(
    lambda text: text.upper().lower() == text.lower()  # dotless i upper-cases to "I", another domain
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_list(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """An empty suppression list per call: a new state directory, or the PostgreSQL schema emptied."""
    if request.param == "sqlite":
        return lambda: SuppressionList(tmp_path_factory.mktemp("s"))
    where = request.getfixturevalue("postgres_state")

    def emptied() -> SuppressionList:
        suppressions = SuppressionList(where)
        with suppressions.state.transaction():
            suppressions.state.connection.execute("DELETE FROM suppressions")
        return suppressions

    return emptied


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=local, labels=st.lists(label, min_size=1, max_size=3))
def test_suppression_matches_any_spelling_of_an_address_and_its_domain(fresh_list, local, labels) -> None:
    try:
        domain = ".".join(labels)
        address = normalise(f"{local}@{domain}")
    except ValueError:
        return  # labels IDNA cannot encode
    suppressions = fresh_list()
    suppressions.add([f"{local.upper()}@{domain.upper()}"])
    assert suppressions.suppressed([f"{local}@{domain}", "other@elsewhere.example"]) == {f"{local}@{domain}"}
    assert address in {s.entry for s in suppressions}
    suppressions.remove([address])
    suppressions.add(["@" + domain])
    assert suppressions.suppressed([f"someone@{domain.lower()}"]) == {f"someone@{domain.lower()}"}
    suppressions.close()


def test_cli_add_list_remove_import_export(tmp_path: Path) -> None:
    code, out, _ = tierii("suppress", "add", "Ana@Example.com", "@spam.example", "--reason", "asked")
    assert code == 0 and "suppressed 2 new" in out
    imported = tmp_path / "list.csv"
    imported.write_text("Email,name\nben@example.com,Ben\nana@example.com,Ana\n")
    code, out, _ = tierii("suppress", "import", str(imported))
    assert code == 0 and "imported 2 entries" in out and "1 new" in out
    lines = tmp_path / "list.txt"
    lines.write_text("# bounced\ncy@example.com\n\n")
    assert tierii("suppress", "import", str(lines))[0] == 0
    code, out, _ = tierii("suppress", "export")
    rows = out.splitlines()
    assert rows[0] == "entry,reason,source,added"
    assert [r.split(",")[0] for r in rows[1:]] == [
        "@spam.example",
        "ana@example.com",
        "ben@example.com",
        "cy@example.com",
    ]
    assert tierii("suppress", "remove", "ANA@example.com")[1].startswith("removed 1")
    code, out, _ = tierii("suppress", "list")
    assert "ana@example.com" not in out and "ben@example.com\timport:list.csv" in out


def test_cli_import_names_the_bad_line_and_imports_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("ok@example.com\nnot an address\n")
    code, _, err = tierii("suppress", "import", str(bad))
    assert code == 2
    assert f"{bad}:2:" in err and "nothing was imported" in err
    assert tierii("suppress", "list")[1] == ""


def test_cli_import_of_a_latin_1_file_names_the_file_and_line_and_exits_2(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok@example.com\nrené@example.com\n".encode("latin-1"))
    result = CliRunner().invoke(cli, ["suppress", "import", str(latin)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, UnicodeDecodeError)
    assert f"{latin}:2: not valid UTF-8 (byte 0xe9 at column 4)" in result.stderr
    assert "nothing was imported" in result.stderr
    assert tierii("suppress", "list")[1] == ""


def test_a_killed_import_leaves_all_or_nothing(tmp_path: Path, clean_environment: Path) -> None:
    """SIGKILL as soon as the import's first rows can be seen: they must be all of them."""
    count = 100_000
    big = tmp_path / "big.txt"
    big.write_text("".join(f"user{i}@example.com\n" for i in range(count)))
    state = clean_environment / ".tierii"
    env = {**os.environ, "TIERII_STATE_DIR": str(state)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", "suppress", "import", str(big)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = 0
    try:
        while process.poll() is None and not seen:
            seen = _committed_rows(state)
    finally:
        process.kill()
        process.wait()
    assert _committed_rows(state) in (0, count)


def _committed_rows(state: Path) -> int:
    path = state / "journal.sqlite3"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM suppressions").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # created but not yet holding the table
        return 0
