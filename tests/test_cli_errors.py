"""Bad input gets a clear message naming the place and exit 2, never a traceback, and is
caught before anything is sent."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tierii_core.cli import cli

DEMO_ENV = Path(__file__).resolve().parents[1] / "examples" / ".env.example"


def tierii(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner(env=env).invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_a_report_path_in_a_missing_directory_is_refused_before_sending(
    examples: Path, clean_environment: Path
) -> None:
    result = tierii(
        "--env-file",
        str(DEMO_ENV),
        "send",
        str(examples / "contacts.csv"),
        "-t",
        str(examples / "welcome.mustache"),
        "--report",
        "/nonexistent/dir/r.json",
    )
    assert result.exit_code == 2
    assert "--report /nonexistent/dir/r.json: the directory /nonexistent/dir does not exist" in result.stderr
    assert not (clean_environment / "outbox").exists()


@pytest.mark.parametrize("how", ["--env-file", "./.env"])
def test_a_settings_file_that_is_not_utf_8_names_the_file_and_line(how: str, clean_environment: Path) -> None:
    settings = clean_environment / ("latin.env" if how == "--env-file" else ".env")
    settings.write_bytes("TIERII_STATE_DIR=.tierii\n# comment\nTIERII_FROM_NAME=Café\n".encode("latin-1"))
    args = ["--env-file", str(settings), "status"] if how == "--env-file" else ["status"]
    result = tierii(*args)
    assert result.exit_code == 2
    assert f"{settings.name}:3: not valid UTF-8 (byte 0xe9 at column 21)" in result.stderr
    assert "save it as UTF-8" in result.stderr


def test_status_of_a_damaged_journal_names_it_and_says_what_to_do(clean_environment: Path) -> None:
    state = clean_environment / ".tierii"
    state.mkdir()
    (state / "journal.sqlite3").write_bytes(b"this is not a database" * 300)
    result = tierii("status")
    assert result.exit_code == 2
    assert "journal.sqlite3" in result.stderr and "not a readable journal" in result.stderr
    assert "move it aside" in result.stderr.lower()


def test_status_of_a_truncated_journal_says_what_to_do(clean_environment: Path) -> None:
    state = clean_environment / ".tierii"
    state.mkdir()
    db = sqlite3.connect(state / "journal.sqlite3")
    db.execute("CREATE TABLE campaigns (id TEXT PRIMARY KEY, last_run_at REAL)")
    db.executemany("INSERT INTO campaigns VALUES (?, ?)", [(f"c{i}" * 200, i) for i in range(200)])
    db.commit()
    db.close()
    data = (state / "journal.sqlite3").read_bytes()
    (state / "journal.sqlite3").write_bytes(data[: len(data) // 2])
    result = tierii("status")
    assert result.exit_code == 2
    assert "not a readable journal" in result.stderr


def test_unsubscribe_serve_on_a_busy_port_exits_2_naming_it() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            "TIERII_UNSUBSCRIBE_URL": "https://shop.example/u",
            "TIERII_UNSUBSCRIBE_SECRET": "a-test-secret-of-enough-length",
        }
        result = tierii("unsubscribe", "serve", "--port", str(port), env=env)
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_suppress_export_to_a_directory_exits_2_with_a_message(tmp_path: Path) -> None:
    result = tierii("suppress", "export", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_suppress_import_of_a_directory_exits_2_with_a_message(tmp_path: Path) -> None:
    result = tierii("suppress", "import", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.output
