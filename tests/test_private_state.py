"""The state directory is private to its user (0700, files 0600), and the credentials in a
source location (a database URL's password) reach neither it nor any output."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tierii_core import hookimpl
from tierii_core.cli import cli
from tierii_core.cli import context as cli_context
from tierii_core.components import ContactSource
from tierii_core.models import Contact
from tierii_core.plugins import make_plugin_manager
from tierii_core.redact import mask_credentials
from tierii_core.suppression import Suppressor

PASSWORD = "Pa55:w0rd@xyz"
LOCATION = f"crm://sales:{PASSWORD}@127.0.0.1:5432/crm?table=contacts&sslpassword=k3y-w0rd"
MASKED = "crm://sales:***@127.0.0.1:5432/crm?table=contacts&sslpassword=***"
SEEN_RUNS: list = []


class CrmSource(ContactSource):
    """A third-party source whose locations carry credentials, like a database URL."""

    name = "crm"
    patterns = ("crm://*",)

    def estimate_count(self) -> int:
        return 2

    def __iter__(self):
        for i, name in enumerate(["Ana", "Bo"], start=1):
            email = f"{name.lower()}@example.com"
            yield Contact(email, {"email": email, "name": name}, f"crm row {i}")


class CrmPlugin:
    @hookimpl
    def tierii_contact_sources(self):
        return [CrmSource]

    @hookimpl
    def tierii_run_started(self, run):
        SEEN_RUNS.append(run)


@pytest.fixture
def template(clean_environment: Path) -> Path:
    path = clean_environment / "t.mustache"
    path.write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello {{name}}\n")
    return path


def send(monkeypatch: pytest.MonkeyPatch, *plugins: object, args: list[str]):
    pm = make_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        pm.register(plugin)
    monkeypatch.setattr(cli_context, "_plugin_manager", pm)
    return CliRunner().invoke(cli, ["send", "--transactional", *args])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_password_in_the_source_url_is_masked_in_the_journal_observers_and_output(
    monkeypatch: pytest.MonkeyPatch, template: Path, clean_environment: Path
) -> None:
    SEEN_RUNS.clear()
    result = send(monkeypatch, CrmPlugin(), args=[LOCATION, "-t", str(template), "--report", "report.json"])
    assert result.exit_code == 0, result.output
    state = clean_environment / ".tierii"
    db = sqlite3.connect(state / "journal.sqlite3")
    assert db.execute("SELECT source FROM campaigns").fetchall() == [(MASKED,)]
    db.close()
    assert [run.source for run in SEEN_RUNS] == [MASKED]
    for path in [*state.iterdir(), clean_environment / "report.json"]:
        assert b"w0rd" not in path.read_bytes(), path
    assert "w0rd" not in result.output
    assert json.loads((clean_environment / "report.json").read_text())["sent"] == 2


def test_no_source_for_a_location_names_it_without_its_password(
    monkeypatch: pytest.MonkeyPatch, template: Path
) -> None:
    result = send(monkeypatch, args=[LOCATION, "-t", str(template)])
    assert result.exit_code == 2
    assert MASKED in result.stderr and "w0rd" not in result.output


def test_the_state_directory_and_its_files_are_private(
    monkeypatch: pytest.MonkeyPatch, template: Path, clean_environment: Path
) -> None:
    os.umask(0o022)
    result = send(monkeypatch, CrmPlugin(), args=[LOCATION, "-t", str(template)])
    assert result.exit_code == 0, result.output
    state = clean_environment / ".tierii"
    assert mode(state) == 0o700
    files = sorted(p.name for p in state.iterdir())
    assert "journal.sqlite3" in files  # no lock file: the claims keep processes apart
    assert {name: mode(state / name) for name in files} == {name: 0o600 for name in files}


def test_an_existing_state_directory_is_made_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Suppressor(state).close()
    state.chmod(0o755)
    (state / "journal.sqlite3").chmod(0o644)
    suppressor = Suppressor(state)
    suppressor.close()
    assert mode(state) == 0o700
    assert mode(state / "journal.sqlite3") == 0o600


def test_the_unsubscribe_queue_file_is_private(tmp_path: Path) -> None:
    from tierii_core.pending import Pending, PendingSuppressions

    os.umask(0o022)
    queue = PendingSuppressions(tmp_path)
    queue.append(Pending("ana@example.com", "r", "s", 1.0))
    assert mode(queue.path) == 0o600


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://crm:s3cret@db.internal/crm", "postgresql://crm:***@db.internal/crm"),
        ("postgresql+psycopg://u:p@ss:w@127.0.0.1:5432/x", "postgresql+psycopg://u:***@127.0.0.1:5432/x"),
        ("error at postgresql://a:b@h/d: refused", "error at postgresql://a:***@h/d: refused"),
        (
            "postgresql://h/d?user=u&password=pw&sslmode=require",
            "postgresql://h/d?user=u&password=***&sslmode=require",
        ),
        ("sqlite:///crm.db?table=contacts", "sqlite:///crm.db?table=contacts"),
        ("contacts.csv", "contacts.csv"),
        ("postgresql://only-a-user@h/d", "postgresql://only-a-user@h/d"),
        ("postgresql://h:5432/d?table=t", "postgresql://h:5432/d?table=t"),
        ("postgresql://u:pa/ss#@h/d", "postgresql://u:***@h/d"),
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
        min_size=1,
    ),
    st.sampled_from(["postgresql", "postgresql+psycopg", "mysql", "crm"]),
)
def test_no_password_survives_masking(password: str, scheme: str) -> None:
    assert (
        mask_credentials(f"{scheme}://user:{password}@host:5/db?x=1") == f"{scheme}://user:***@host:5/db?x=1"
    )


def test_sqlite_files_beside_an_open_state_database_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    suppressor = Suppressor(tmp_path / "state")
    try:
        suppressor.suppress("ana@example.com", "r", "s")  # a write: the -wal and -shm files exist now
        state = tmp_path / "state"
        names = sorted(p.name for p in state.iterdir())
        assert {"journal.sqlite3-wal", "journal.sqlite3-shm"} <= set(names)
        assert {name: mode(state / name) for name in names} == {name: 0o600 for name in names}
        assert mode(state) == 0o700
    finally:
        suppressor.close()
