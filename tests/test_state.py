"""The state store (tierii_core.state): one module opens the database, owns every table's
schema and its version, migrates an older database in place (data kept), shows it read-only
without writing, and refuses one newer than this TierII."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import tierii_core.state as state_module
from tierii_core.cli import cli
from tierii_core.errors import ConfigurationError
from tierii_core.feedback_store import HARD, Event, FeedbackStore
from tierii_core.journal import SqliteJournal
from tierii_core.models import ErrorKind, Outcome, Status
from tierii_core.state import FILENAME, MIGRATIONS, VERSION, AddColumn, Migration, NewerStateError, open_state
from tierii_core.suppression import SuppressionList, Suppressor
from tierii_core.testing.state_lock import hold_state_lock

ALL_STEPS = [step.version for step in MIGRATIONS]
DEMO_ENV = Path(__file__).resolve().parents[1] / "examples" / ".env.example"

# The schema TierII wrote before the state store had versions, as it was in each module: the
# journal's first version (no ``failure`` column), the suppression list's and the feedback tables.
OLD_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    template TEXT NOT NULL,
    providers TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_run_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    campaign TEXT NOT NULL REFERENCES campaigns(id),
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    provider TEXT,
    provider_message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (campaign, email)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (campaign, state);
"""
OLD_SUPPRESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
    entry TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) WITHOUT ROWID;
"""
OLD_FEEDBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_reports (
    report TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    processed_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feedback_events (
    report TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    diagnostic TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    PRIMARY KEY (report, email, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feedback_events_address ON feedback_events (email, kind, at);
CREATE INDEX IF NOT EXISTS feedback_events_campaign ON feedback_events (campaign, kind);
"""


def old_database(directory: Path, *, suppressions: bool = True) -> Path:
    """A state database as the previous TierII left it: ana was sent, bo failed, one suppression."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / FILENAME
    db = sqlite3.connect(path)
    db.executescript(OLD_JOURNAL_SCHEMA + (OLD_SUPPRESSION_SCHEMA if suppressions else ""))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("INSERT INTO campaigns VALUES ('spring', 'contacts.csv', 'welcome.mustache', 'outbox', 1, 2)")
    db.executemany(
        "INSERT INTO recipients VALUES ('spring', ?, ?, ?, 'outbox', ?, 1, ?, 2)",
        [
            ("ana.garcia@example.com", "sent", "contacts.csv:2", "<m1@outbox>", None),
            ("bo@example.com", "failed", "contacts.csv:3", None, "550 no such user"),
        ],
    )
    if suppressions:
        db.execute("INSERT INTO suppressions VALUES ('zoe@example.com', 'asked', 'manual', 3)")
    db.commit()
    db.close()
    path.chmod(0o600)
    return path


def shape(path: Path) -> dict[str, object]:
    """Tables with their columns (name, type, not null, default, key) and indexes: what the
    stores' statements depend on, whatever text created them."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {
            "tables": {t: [row[1:] for row in db.execute(f"PRAGMA table_info({t})")] for t in tables},
            "indexes": sorted(
                (r[0], r[1])
                for r in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
                if not r[0].startswith("sqlite_autoindex")
            ),
        }
    finally:
        db.close()


def versions(path: Path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT version FROM state_version ORDER BY version")]
    finally:
        db.close()


def tierii(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def fresh_shape(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("fresh")
    open_state(directory).close()
    return shape(directory / FILENAME)


# -- an older database --------------------------------------------------------------------------


def test_a_database_of_the_previous_version_is_migrated_in_place_and_keeps_its_data(
    tmp_path: Path, fresh_shape: dict[str, object]
) -> None:
    path = old_database(tmp_path)
    journal = SqliteJournal(tmp_path)
    try:
        entries = journal.entries("spring", ["ana.garcia@example.com", "bo@example.com"])
        assert entries["ana.garcia@example.com"].status is Status.SENT
        # failed before failures had kinds: final, as it was promised then
        assert entries["bo@example.com"].status is Status.FAILED and entries["bo@example.com"].final_failure
        assert [r.provider_message_id for r in journal.recipients("spring", Status.SENT)] == ["<m1@outbox>"]
        # the migrated journal takes today's writes
        failed = Outcome("cy@example.com", Status.FAILED, "outbox", reason="451", kind=ErrorKind.TRANSIENT)
        journal.record("spring", [("cy@example.com", "contacts.csv:4", failed)])
        assert journal.entries("spring", ["cy@example.com"])["cy@example.com"].failure is ErrorKind.TRANSIENT
    finally:
        journal.close()
    assert versions(path) == ALL_STEPS
    assert shape(path) == fresh_shape
    assert [s.entry for s in SuppressionList(tmp_path, read_only=True)] == ["zoe@example.com"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_resumed_send_on_a_database_of_the_previous_version_skips_who_had_it(
    clean_environment: Path, examples: Path
) -> None:
    old_database(clean_environment / ".tierii")
    result = tierii(
        "--env-file",
        str(DEMO_ENV),
        "send",
        str(examples / "contacts.csv"),
        "-t",
        str(examples / "welcome.mustache"),
        "--campaign",
        "spring",
    )
    assert result.exit_code == 0, result.output
    contacts = len((examples / "contacts.csv").read_text(encoding="utf-8").splitlines()) - 1
    sent = [p.read_bytes() for p in (clean_environment / "outbox" / "new").iterdir()]
    assert len(sent) == contacts - 1 and "already done in an earlier run: 1" in result.output
    assert not any(b"ana.garcia@example.com" in message for message in sent)
    assert versions(clean_environment / ".tierii" / FILENAME) == ALL_STEPS


@settings(max_examples=25, deadline=None)
@given(
    suppressions=st.booleans(),
    failure=st.booleans(),
    feedback=st.booleans(),
    journal=st.booleans(),
)
def test_any_database_from_before_versions_ends_in_one_schema(
    suppressions: bool, failure: bool, feedback: bool, journal: bool
) -> None:
    """Each store created its own tables: a database may have any of them, the journal with or
    without ``failure``; whichever, a read-write open gives the one schema."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        db = sqlite3.connect(directory / FILENAME)
        if journal:
            db.executescript(OLD_JOURNAL_SCHEMA)
            if failure:
                db.execute("ALTER TABLE recipients ADD COLUMN failure TEXT")
        if suppressions:
            db.executescript(OLD_SUPPRESSION_SCHEMA)
        if feedback:
            db.executescript(OLD_FEEDBACK_SCHEMA)
        db.close()
        open_state(directory).close()
        with tempfile.TemporaryDirectory() as other:
            open_state(Path(other)).close()
            assert shape(directory / FILENAME) == shape(Path(other) / FILENAME)


def test_an_older_database_read_only_shows_todays_shape_and_writes_nothing(tmp_path: Path) -> None:
    path = old_database(tmp_path, suppressions=False)
    before = path.read_bytes()
    journal = SqliteJournal(tmp_path, read_only=True)
    try:
        (bo,) = journal.recipients("spring", Status.FAILED)
        assert bo.email == "bo@example.com" and bo.failure is None
        assert journal.counts("spring")["sent"] == 1
    finally:
        journal.close()
    assert list(SuppressionList(tmp_path, read_only=True)) == []
    assert FeedbackStore(tmp_path, read_only=True).summary("spring", 1).hard_bounces == 0
    state = open_state(tmp_path, read_only=True)
    assert state.version == 0 and state.counts() == {"campaigns": 1, "recipients": 2}
    state.close()
    assert path.read_bytes() == before
    # a reader of a WAL database makes SQLite's -shm beside it: with the database's mode
    assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob(f"{FILENAME}*")} == {0o600}
    assert "state_version" not in shape(path)["tables"]


def test_steps_run_in_order_once_and_a_failing_step_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_state(tmp_path).close()
    path = tmp_path / FILENAME
    later = (
        Migration(VERSION + 1, "labels", ("CREATE TABLE labels (name TEXT PRIMARY KEY)",)),
        Migration(
            VERSION + 2,
            "labels.colour, indexed",
            (AddColumn("labels", "colour", "TEXT"), "CREATE INDEX labels_colour ON labels (colour)"),
        ),
    )
    monkeypatch.setattr(state_module, "MIGRATIONS", (*state_module.MIGRATIONS, *later))
    monkeypatch.setattr(state_module, "VERSION", VERSION + 2)
    # its first change works, its second fails (the table exists): neither may stay
    changes = (AddColumn("labels", "size", "INTEGER"), "CREATE TABLE labels (x)")
    broken = Migration(VERSION + 3, "broken", changes)
    state = open_state(tmp_path)
    assert [step.version for step in state.applied] == [VERSION + 1, VERSION + 2]
    state.close()
    assert versions(path) == [*ALL_STEPS, VERSION + 1, VERSION + 2]
    assert [column[0] for column in shape(path)["tables"]["labels"]] == ["name", "colour"]
    assert open_state(tmp_path).applied == []  # nothing left to do

    monkeypatch.setattr(state_module, "MIGRATIONS", (*state_module.MIGRATIONS, broken))
    monkeypatch.setattr(state_module, "VERSION", VERSION + 3)
    before = shape(path)
    with pytest.raises(ConfigurationError, match="already exists"):
        open_state(tmp_path)
    assert shape(path) == before and versions(path)[-1] == VERSION + 2


def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            open_state(tmp_path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions(path) == ALL_STEPS


@pytest.mark.parametrize("attempt", range(40))
def test_processes_opening_a_new_state_directory_at_once_all_open_it(tmp_path: Path, attempt: int) -> None:
    """Two sends started together on a new state directory: switching the new file to WAL
    needs a lock SQLite's busy timeout does not wait for; each opener must wait its turn."""
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            open_state(tmp_path / "state").close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions(tmp_path / "state" / FILENAME) == ALL_STEPS


# -- a newer database ---------------------------------------------------------------------------


def newer_database(directory: Path) -> Path:
    open_state(directory).close()
    path = directory / FILENAME
    db = sqlite3.connect(path)
    db.execute("INSERT INTO state_version VALUES (?, 'from the future', 0)", (VERSION + 5,))
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
def test_a_newer_database_is_refused_naming_the_file_and_both_versions(
    tmp_path: Path, read_only: bool
) -> None:
    path = newer_database(tmp_path)
    before = path.read_bytes()
    for opener in (SqliteJournal, SuppressionList, FeedbackStore):
        with pytest.raises(NewerStateError) as refused:
            opener(tmp_path, read_only=read_only)
        message = str(refused.value)
        assert str(path) in message
        assert f"version {VERSION + 5}" in message and f"up to {VERSION}" in message
    assert path.read_bytes() == before


def test_commands_refuse_a_newer_database_with_exit_2(clean_environment: Path) -> None:
    path = newer_database(clean_environment / ".tierii")
    for args in (["status"], ["suppress", "add", "ann@example.com"], ["state", "upgrade"], ["state", "info"]):
        result = tierii(*args)
        assert result.exit_code == 2, (args, result.output)
        assert str(path) in result.stderr and f"version {VERSION + 5}" in result.stderr
    assert versions(path) == [*ALL_STEPS, VERSION + 5]


# -- one schema, one owner ----------------------------------------------------------------------


def test_stores_sharing_one_process_see_one_schema_whoever_opens_first(
    tmp_path: Path, fresh_shape: dict[str, object]
) -> None:
    """tierii-feedback opens the feedback store, a Suppressor and the journal in one process:
    the first to open creates every table, and each one's writes are the others' reads."""
    store = FeedbackStore(tmp_path)
    assert shape(tmp_path / FILENAME) == fresh_shape
    suppressor = Suppressor(tmp_path)
    journal = SqliteJournal(tmp_path)
    try:
        journal.open_campaign("spring", "contacts.csv", "t.mustache", ["outbox"])
        journal.record(
            "spring",
            [
                (
                    "ana@example.com",
                    "contacts.csv:2",
                    Outcome("ana@example.com", Status.SENT, "outbox", "<m1>"),
                )
            ],
        )
        assert suppressor.suppress("ana@example.com", "hard bounce", "feedback")
        store.record("sha256:1", "inbox/1", HARD, [Event("ana@example.com", HARD, "550", "spring")])
        assert SuppressionList(tmp_path, read_only=True).suppressed(["ana@example.com"]) == {
            "ana@example.com"
        }
        assert FeedbackStore(tmp_path, read_only=True).summary("spring", 1).hard_bounces == 1
        assert SqliteJournal(tmp_path, read_only=True).counts("spring")["sent"] == 1
    finally:
        journal.close()
        suppressor.close()
        store.close()
    assert shape(tmp_path / FILENAME) == fresh_shape
    assert versions(tmp_path / FILENAME) == ALL_STEPS


def test_the_store_is_private_and_a_missing_one_is_not_created_by_readers(tmp_path: Path) -> None:
    os.umask(0o022)
    directory = tmp_path / "state"
    state = open_state(directory, read_only=True)
    assert not state.exists and state.counts() == {}
    state.close()
    assert not directory.exists()
    state = open_state(directory)
    with state.transaction() as db:
        db.execute("INSERT INTO suppressions VALUES ('a@example.com', '', '', 0)")
    names = sorted(p.name for p in directory.iterdir())
    assert {FILENAME, f"{FILENAME}-wal", f"{FILENAME}-shm"} <= set(names)
    assert {n: stat.S_IMODE((directory / n).stat().st_mode) for n in names} == {n: 0o600 for n in names}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    state.close()


def test_a_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    state = open_state(tmp_path)
    with pytest.raises(RuntimeError), state.transaction() as db:
        db.execute("INSERT INTO suppressions VALUES ('a@example.com', '', '', 0)")
        raise RuntimeError("stop")
    assert state.counts()["suppressions"] == 0
    state.close()


# -- damaged, locked ----------------------------------------------------------------------------


def test_a_damaged_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b"this is not a database" * 300)
    for read_only in (False, True):
        with pytest.raises(ConfigurationError, match="not a readable journal") as refused:
            open_state(tmp_path, read_only=read_only)
        assert f"mv {tmp_path / FILENAME}" in str(refused.value)


def test_an_old_database_locked_by_another_process_says_so(tmp_path: Path) -> None:
    old_database(tmp_path)
    with hold_state_lock(tmp_path), pytest.raises(ConfigurationError, match="locked by another process"):
        open_state(tmp_path, wait=0.05)
    open_state(tmp_path).close()  # once the lock is free, it migrates
    assert versions(tmp_path / FILENAME) == ALL_STEPS


# -- tierii state -------------------------------------------------------------------------------


def test_state_upgrade_migrates_explicitly_and_info_reports(clean_environment: Path) -> None:
    import json

    state_dir = clean_environment / ".tierii"
    result = tierii("state", "info")
    assert result.exit_code == 0 and "none yet" in result.output
    assert not state_dir.exists()
    assert f"created at version {VERSION}" in tierii("state", "upgrade").output
    shutil.rmtree(state_dir)

    old_database(state_dir)
    info = json.loads(tierii("state", "info", "--json").output)
    assert info["version"] == 0 and info["tierii_version"] == VERSION
    assert info["tables"] == {"campaigns": 1, "recipients": 2, "suppressions": 1}
    assert "older: `tierii state upgrade`" in tierii("state", "info").output

    result = tierii("state", "upgrade")
    assert result.exit_code == 0
    assert f"version 0 -> {VERSION}" in result.output and str(state_dir / FILENAME) in result.output
    assert "nothing to do" in tierii("state", "upgrade").output
    info = json.loads(tierii("state", "info", "--json").output)
    assert info["version"] == VERSION and info["path"] == str(state_dir / FILENAME)
    assert info["tables"]["recipients"] == 2 and info["tables"]["campaign_approvals"] == 0


def test_a_reader_opened_before_a_writer_migrates_sees_what_the_writer_records(tmp_path: Path) -> None:
    """A long-running reader (``tierii feedback watch``'s journal) of an older database keeps
    reading right after the next send has upgraded it."""
    old_database(tmp_path)
    reader = SqliteJournal(tmp_path, read_only=True)
    try:
        assert reader.entries("spring", ["bo@example.com"])["bo@example.com"].failure is None
        writer = SqliteJournal(tmp_path)
        failed = Outcome("bo@example.com", Status.FAILED, "outbox", reason="451", kind=ErrorKind.TRANSIENT)
        writer.record("spring", [("bo@example.com", "contacts.csv:3", failed)])
        writer.close()
        assert reader.entries("spring", ["bo@example.com"])["bo@example.com"].failure is ErrorKind.TRANSIENT
        (bo,) = reader.recipients("spring", Status.FAILED)
        assert bo.failure == "transient" and bo.last_error == "451"
    finally:
        reader.close()
