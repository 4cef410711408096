"""The state store: the one database that holds the journal, the suppression list, the
feedback tables and the campaigns' identities and approvals; its schema, its version and the
migrations that bring an older one up to date.

Every store (:mod:`~tierii_core.journal`, :mod:`~tierii_core.suppression`,
:mod:`~tierii_core.feedback_store`) takes its connection from :func:`open_state`; none opens the
file, sets pragmas or creates tables itself. What a store needs is the small
:class:`StateStore` interface (a DB-API connection, a transaction, whether it is read-only), so
that a second implementation (a shared PostgreSQL store) can stand beside :class:`SqliteState`.

The schema is :data:`MIGRATIONS`, applied in order: a new database runs them all, an older one
those it lacks, in one transaction, on the first read-write open (or ``tierii state upgrade``).
``state_version`` has a row per step applied; a database without it was written by a TierII
from before versions (version 0, whatever tables it has: each step checks before it changes
anything). A released step is never edited: a change is a new step at the end. A database
newer than this TierII is refused, read-only or not: its meaning may have changed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from attrs import frozen

from tierii_core.errors import ConfigurationError
from tierii_core.private import private_directory, private_file
from tierii_core.redact import mask_credentials
from tierii_core.state_base import Migration, NewerStateError, StateURL, newer_message

__all__ = [
    "FILENAME",
    "MIGRATIONS",
    "VERSION",
    "AddColumn",
    "Migration",
    "NewerStateError",
    "SqliteState",
    "StateStore",
    "StateURL",
    "Where",
    "check_state",
    "check_state_dir",
    "open_state",
    "parse_state_url",
    "state_location",
]

T = TypeVar("T")

FILENAME = "journal.sqlite3"
MIN_FREE_BYTES = 16 * 1024 * 1024


@frozen
class AddColumn:
    """``ALTER TABLE table ADD COLUMN column declaration``, unless the column is there already
    (databases from before versions may have it)."""

    table: str
    column: str
    declaration: str

    def apply(self, db: sqlite3.Connection) -> None:
        if self.column not in _columns(db, self.table):
            db.execute(f"ALTER TABLE {self.table} ADD COLUMN {self.column} {self.declaration}")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the journal, the suppression list, feedback, campaigns' identities and approvals "
        "(TierII before versions)",
        (
            """CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    template TEXT NOT NULL,
    providers TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_run_at REAL NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS recipients (
    campaign TEXT NOT NULL REFERENCES campaigns(id),
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    provider TEXT,
    provider_message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at REAL NOT NULL,
    failure TEXT,
    message_id TEXT,
    PRIMARY KEY (campaign, email)
) WITHOUT ROWID""",
            "CREATE INDEX IF NOT EXISTS recipients_state ON recipients (campaign, state)",
            """CREATE TABLE IF NOT EXISTS suppressions (
    entry TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) WITHOUT ROWID""",
            """CREATE TABLE IF NOT EXISTS feedback_reports (
    report TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    processed_at REAL NOT NULL
) WITHOUT ROWID""",
            """CREATE TABLE IF NOT EXISTS feedback_events (
    report TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    diagnostic TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    PRIMARY KEY (report, email, kind)
) WITHOUT ROWID""",
            "CREATE INDEX IF NOT EXISTS feedback_events_address ON feedback_events (email, kind, at)",
            "CREATE INDEX IF NOT EXISTS feedback_events_campaign ON feedback_events (campaign, kind)",
            """CREATE TABLE IF NOT EXISTS campaign_identity (
    campaign TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    templates TEXT NOT NULL,
    rules TEXT NOT NULL,
    providers TEXT NOT NULL,
    segment TEXT NOT NULL,
    updated_at REAL NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS campaign_approvals (
    campaign TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at REAL NOT NULL,
    PRIMARY KEY (campaign, content_hash)
)""",
            AddColumn("recipients", "failure", "TEXT"),  # journals from before failures had kinds
            AddColumn("recipients", "message_id", "TEXT"),  # ... and before they kept Message-IDs
            "CREATE INDEX IF NOT EXISTS recipients_message_id ON recipients (message_id COLLATE NOCASE) "
            "WHERE message_id IS NOT NULL",
        ),
    ),
    Migration(
        2,
        "claims with an owner and a lease: the claim, not a lock file, keeps two processes apart",
        (
            AddColumn("recipients", "owner", "TEXT"),
            """CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    started_at REAL NOT NULL
) WITHOUT ROWID""",
        ),
    ),
    Migration(
        3,
        "each outcome's reason code (repeated-address, suppressed...), which status and reports group by",
        (AddColumn("recipients", "reason_code", "TEXT"),),
    ),
)

#: the version this TierII writes and reads
VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS state_version (
    version INTEGER PRIMARY KEY,
    why TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


class StateStore(Protocol):
    """What a store needs from the state database (:class:`SqliteState`, and
    :class:`tierii_core.state_postgres.PostgresState`).

    The stores write their SQL once, in SQLite's spelling with ``?`` placeholders (and only
    what PostgreSQL also understands: ``ON CONFLICT``, ``RETURNING``); the PostgreSQL store's
    connection translates the placeholders.
    """

    #: the database, as shown in messages (a file; a URL with its password masked)
    where: str
    read_only: bool
    #: False for a read-only view of a database that does not exist yet (it reads as empty)
    exists: bool
    #: the connection the store's statements run on (``execute``, ``executemany``)
    connection: Any
    #: the exceptions the connection raises
    Error: type[Exception] | tuple[type[Exception], ...]

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """All or nothing: committed when the block ends, rolled back when it raises."""

    def attempt(self, work: Callable[[], T]) -> T:
        """Run ``work`` (a transaction, or reads); a store whose server can go away reconnects
        and runs it again, for a bounded time (``work`` must be safe to repeat)."""

    def counts(self) -> dict[str, int]: ...

    @property
    def version(self) -> int: ...

    def close(self) -> None: ...


#: where the state is: a state directory (SQLite), or a PostgreSQL database
Where = Path | StateURL


def parse_state_url(text: str) -> Where:
    """``TIERII_STATE_URL``: ``sqlite:///path`` (the state directory, or its journal.sqlite3;
    relative, or absolute with a fourth slash as in SQLAlchemy: ``sqlite:////var/lib/tierii``)
    or ``postgresql://user:password@host:port/database`` (``postgres://`` and SQLAlchemy's
    ``postgresql+psycopg://`` are read the same)."""
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "sqlite":
        # SQLAlchemy's spelling: sqlite:///relative/dir, sqlite:////absolute/dir
        if not rest.startswith("/") or not rest[1:]:
            raise ConfigurationError(
                f"TIERII_STATE_URL={mask_credentials(value)}: a SQLite store is sqlite:///path (three "
                "slashes, then the state directory: sqlite:///.tierii, or sqlite:////var/lib/tierii)"
            )
        path = Path(rest[1:])
        return path.parent if path.name == FILENAME else path
    if sep and scheme in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        return StateURL("postgresql://" + rest)
    raise ConfigurationError(
        f"TIERII_STATE_URL={mask_credentials(value)}: not a state store URL: use "
        "sqlite:///path/to/state-dir or postgresql://user:password@host:port/database"
    )


def state_location(core: Any) -> Where:
    """Where the state is, from the settings: ``TIERII_STATE_URL`` when it is set (it wins),
    else ``TIERII_STATE_DIR``."""
    url = getattr(core, "state_url", "") or ""
    text = url.reveal() if hasattr(url, "reveal") else str(url)  # a Secret: shown masked elsewhere
    return parse_state_url(text) if text.strip() else core.state_dir


def describe(where: Where) -> str:
    """The store as shown in messages: the directory, or the URL with its password masked."""
    return str(where)


def check_state(where: Where) -> Where:
    """:func:`check_state_dir` for a directory; a URL is checked by connecting to it."""
    return check_state_dir(where) if isinstance(where, Path) else where


def damaged(path: Path, exc: Exception) -> str:
    """What to say of a state database SQLite cannot read, and what to do about it."""
    return (
        f"{path}: not a readable journal ({exc}): it is damaged. Move it aside "
        f"(mv {path} {path}.damaged) and the next send starts a new one, which cannot know who got "
        f"earlier campaigns; or restore it from a backup (sqlite3 {path} .recover may save most of it)"
    )


def newer(where: str, found: int) -> str:
    return newer_message(where, found, VERSION)


def explain(path: Path, exc: sqlite3.Error) -> str:
    """A message for an error SQLite raised on the state database: locked, damaged, or other."""
    if is_busy(exc):
        return f"{path}: the state database is locked by another process; try again when it finishes"
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return damaged(path, exc)  # not a database, or a malformed one
    return f"state database {path}: {exc}"


def is_busy(exc: sqlite3.Error) -> bool:
    """The database is locked by another connection (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF in (5, 6)) or "locked" in str(exc)


def check_state_dir(directory: Path) -> Path:
    """Create the state directory if needed and prove it is writable and not full.

    Called before anything is sent, so that storage problems stop the run at the start.
    """
    _make_private(directory)
    if not directory.is_dir():
        raise ConfigurationError(f"TIERII_STATE_DIR={directory}: not a directory")
    probe = directory / f".probe-{os.getpid()}"
    try:
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(f"TIERII_STATE_DIR={directory}: not writable: {exc.strerror}") from None
    free = shutil.disk_usage(directory).free
    if free < MIN_FREE_BYTES:
        raise ConfigurationError(
            f"TIERII_STATE_DIR={directory}: only {free // 1024} KiB free; the journal needs at least "
            f"{MIN_FREE_BYTES // (1024 * 1024)} MiB"
        )
    return directory


def _make_private(directory: Path) -> None:
    try:
        private_directory(directory)
    except OSError as exc:
        raise ConfigurationError(f"TIERII_STATE_DIR={directory}: cannot create it: {exc.strerror}") from None


def open_state(where: Where, *, read_only: bool = False, wait: float = 10.0) -> StateStore:
    """The state database: ``where`` is a state directory (``TIERII_STATE_DIR``, a
    :class:`SqliteState`) or a :class:`StateURL` (a PostgreSQL one, psycopg imported now)."""
    if isinstance(where, StateURL):
        from tierii_core.state_postgres import PostgresState

        return PostgresState(where, read_only=read_only)
    return SqliteState(Path(where), read_only=read_only, wait=wait)


class SqliteState:
    """The embedded store: ``journal.sqlite3`` in the state directory, WAL, ``synchronous=FULL``
    (a committed ``sent`` survives a power cut), the folder 0700 and its files 0600.

    Read-write, it is brought to :data:`VERSION` on open (:attr:`applied` lists the steps that
    ran). Read-only, nothing is written: an older database is shown in today's shape (a table
    it lacks reads empty, a column it lacks reads NULL), and a missing one reads as empty
    (:attr:`exists` is False). ``wait``: seconds a statement waits for another writer's lock.
    One connection per store; the stores serialise their own threads.
    """

    Error = sqlite3.Error

    def __init__(self, directory: Path, *, read_only: bool = False, wait: float = 10.0) -> None:
        self.directory = directory
        self.path = directory / FILENAME
        self.where = str(self.path.absolute())
        self.read_only = read_only
        self.exists = read_only is False or self.path.exists()
        #: a read-write open made the file (a new state directory)
        self.created = not read_only and not self.path.exists()
        self.applied: list[Migration] = []
        if not read_only:
            _make_private(directory)
        try:
            self.connection = self._connect(wait)
        except OSError as exc:  # the file cannot be created or made private
            raise ConfigurationError(f"state database {self.path}: {exc.strerror or exc}") from None
        try:
            if self.read_only and self.exists:
                self._present_as_current()
            else:
                self._upgrade()
        except BaseException as exc:
            self.connection.close()
            if isinstance(exc, sqlite3.Error):
                raise ConfigurationError(explain(self.path, exc)) from None
            raise

    def _connect(self, wait: float) -> sqlite3.Connection:
        if not self.exists:
            return _connect(":memory:")
        if self.read_only:
            db = _connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
        else:
            db = _connect(str(private_file(self.path)))  # created 0600; SQLite's -wal/-shm follow
        try:
            db.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            if not self.read_only:
                _switch_to_wal(db, wait)
                db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:  # not a database, or locked for longer than the wait
            db.close()
            raise ConfigurationError(explain(self.path, exc)) from None
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: the write lock from the start (waiting up to ``wait``), so two
        writers never deadlock halfway; COMMIT at the end, ROLLBACK on any exception."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
            self.connection.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise

    def attempt(self, work: Callable[[], T]) -> T:
        """A local file does not go away: run ``work`` once."""
        return work()

    @property
    def version(self) -> int:
        """The version stored in the database (0: from before versions)."""
        return _stored_version(self.connection)

    def counts(self) -> dict[str, int]:
        """Rows per table of the database (the file's own tables, not those shown empty)."""
        if not self.exists:
            return {}
        names = [
            row[0]
            for row in self.connection.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY rowid"
            )
        ]
        count = 'SELECT count(*) FROM main."{}"'
        return {name: self.connection.execute(count.format(name)).fetchone()[0] for name in names}

    def close(self) -> None:
        self.connection.close()

    def _upgrade(self) -> None:
        """Apply the steps the database lacks, in one transaction (another process may be doing
        the same: the version is read again under the write lock)."""
        db = self.connection
        found = _stored_version(db)
        if found > VERSION:
            raise NewerStateError(newer(self.where, found))
        if found == VERSION:
            return
        with self.transaction():
            found = _stored_version(db)
            if found > VERSION:
                raise NewerStateError(newer(self.where, found))
            db.execute(_VERSION_TABLE)
            for step in MIGRATIONS:
                if step.version > found:
                    step.apply(db)
                    db.execute(
                        "INSERT INTO state_version VALUES (?, ?, ?)", (step.version, step.why, time.time())
                    )
                    self.applied.append(step)

    def _present_as_current(self) -> None:
        """(Read-only.) Show an older database in today's shape, writing nothing to it.

        A table it lacks is an empty one in an attached in-memory database, which SQLite
        searches after the file's own (so the real one wins once a writer has made it and this
        connection reloads the schema); a column it lacks reads NULL through a TEMP view of
        the table, and the real column once a writer has added it (``SELECT *`` comes first).
        """
        db = self.connection
        found = _stored_version(db)
        if found > VERSION:
            raise NewerStateError(newer(self.where, found))
        if found == VERSION:
            return
        current = sqlite3.connect(":memory:", isolation_level=None)
        try:
            current.execute(_VERSION_TABLE)
            for step in MIGRATIONS:
                step.apply(current)
            tables = current.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
            columns = {name: _columns(current, name) for name, _ in tables}
        finally:
            current.close()
        db.execute("ATTACH DATABASE ':memory:' AS defaults")
        for name, sql in tables:
            have = _columns(db, name)
            if not have:
                db.execute(sql.replace("CREATE TABLE ", "CREATE TABLE defaults.", 1))
                continue
            missing = [c for c in columns[name] if c not in have]
            if missing:
                nulls = ", ".join(f'NULL AS "{c}"' for c in missing)
                db.execute(f'CREATE TEMP VIEW "{name}" AS SELECT *, {nulls} FROM main."{name}"')


def _switch_to_wal(db: sqlite3.Connection, wait: float) -> None:
    """``journal_mode=WAL``, waiting up to ``wait`` seconds for the lock it needs: on a new
    file another process is switching too, and SQLite answers BUSY at once there (its busy
    timeout does not apply), which made one of two sends started together fail."""
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)  # another process holds the lock for a moment: wait our turn
        pause = min(pause * 2, 0.1)


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    """Autocommit (transactions are explicit), shared by the store's threads under its lock."""
    return sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA main.table_info("{table}")')]


def _stored_version(db: sqlite3.Connection) -> int:
    if not _columns(db, "state_version"):
        return 0
    return db.execute("SELECT coalesce(max(version), 0) FROM main.state_version").fetchone()[0]
