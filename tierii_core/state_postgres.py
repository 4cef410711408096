"""The shared state store: the same tables as :mod:`tierii_core.state`, in a PostgreSQL database.

For a team that sends from several machines, or a deployment that must outlive the machine a
campaign started on: ``TIERII_STATE_URL=postgresql://user:password@host:port/database``.
psycopg 3 (``pip install "tierii-core[postgres]"``) is imported when such a store is opened,
never by ``tierii --help`` or a SQLite run.

The stores write their SQL once, in SQLite's spelling; :class:`Connection` translates what
differs (``?`` -> ``%s``, ``x = ? COLLATE NOCASE`` -> ``lower(x) = lower(%s)``). The schema is
:data:`MIGRATIONS`: the same versions as SQLite's, in PostgreSQL's types (``DOUBLE PRECISION``
for times: PostgreSQL's ``REAL`` is 4 bytes). ``state_version`` records the steps applied; a
database newer than this TierII is refused; upgrades take an advisory lock, so two processes
opening a new database at once apply each step once.

The server may restart or the network drop: :meth:`PostgresState.attempt` reconnects with
backoff for :attr:`PostgresState.reconnect_for` seconds and runs the work again (the stores'
writes are safe to repeat), then gives up with :class:`StateUnavailable` (a
:class:`~tierii_core.errors.RunStopped`: exit 3, the re-run resumes).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg

from tierii_core.errors import ConfigurationError, RunStopped
from tierii_core.logs import get_logger
from tierii_core.redact import mask_credentials
from tierii_core.state_base import Migration, NewerStateError, StateURL, newer_message

log = get_logger()
T = TypeVar("T")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the journal, the suppression list, feedback, campaigns' identities and approvals",
        (
            """CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    template TEXT NOT NULL,
    providers TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_run_at DOUBLE PRECISION NOT NULL
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
    updated_at DOUBLE PRECISION NOT NULL,
    failure TEXT,
    message_id TEXT,
    PRIMARY KEY (campaign, email)
)""",
            # no (campaign, state) index as SQLite has: while a campaign's table grows faster
            # than autovacuum analyses it, the planner took it for the lookups by address and
            # scanned the whole campaign each time; the primary key serves both
            """CREATE TABLE IF NOT EXISTS suppressions (
    entry TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS feedback_reports (
    report TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    processed_at DOUBLE PRECISION NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS feedback_events (
    report TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    diagnostic TEXT NOT NULL DEFAULT '',
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (report, email, kind)
)""",
            "CREATE INDEX IF NOT EXISTS feedback_events_address ON feedback_events (email, kind, at)",
            "CREATE INDEX IF NOT EXISTS feedback_events_campaign ON feedback_events (campaign, kind)",
            """CREATE TABLE IF NOT EXISTS campaign_identity (
    campaign TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    templates TEXT NOT NULL,
    rules TEXT NOT NULL,
    providers TEXT NOT NULL,
    segment TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS campaign_approvals (
    campaign TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign, content_hash)
)""",
            # find_message matches Message-IDs case-insensitively: lower() on both sides
            "CREATE INDEX IF NOT EXISTS recipients_message_id ON recipients (lower(message_id)) "
            "WHERE message_id IS NOT NULL",
        ),
    ),
    Migration(
        2,
        "claims with an owner and a lease: the claim, not a lock file, keeps two processes apart",
        (
            "ALTER TABLE recipients ADD COLUMN IF NOT EXISTS owner TEXT",
            """CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION NOT NULL
)""",
        ),
    ),
    Migration(
        3,
        "each outcome's reason code (repeated-address, suppressed...), which status and reports group by",
        ("ALTER TABLE recipients ADD COLUMN IF NOT EXISTS reason_code TEXT",),
    ),
)

#: the version this TierII writes and reads (the same as SQLite's: a test holds them equal)
VERSION = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS state_version (
    version INTEGER PRIMARY KEY,
    why TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)"""

#: any number: the key of the advisory lock upgrades take
_UPGRADE_LOCK = 0x7E1A_5747

_NOCASE = re.compile(r"(\w+) = \? COLLATE NOCASE")


def translate(sql: str) -> str:
    """A statement in SQLite's spelling, in PostgreSQL's (``?`` placeholders -> ``%s``)."""
    sql = _NOCASE.sub(r"lower(\1) = lower(?)", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class StateUnavailable(RunStopped):
    """The PostgreSQL server stayed out of reach for the whole reconnection window (exit 3)."""


class Connection:
    """What the stores call ``execute`` and ``executemany`` on: psycopg's connection, with
    their SQLite-spelled statements translated; the psycopg connection underneath is replaced
    when :class:`PostgresState` reconnects."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), rows)
        return cursor


class PostgresState:
    """The shared store (see the module's docstring). One connection, autocommit between
    explicit transactions; the stores serialise their own threads on it.

    Read-write, it is brought to :data:`VERSION` on open. Read-only, its
    sessions are read-only; an empty database reads as empty (temporary tables stand in).
    """

    Error = psycopg.Error
    #: seconds :meth:`attempt` keeps reconnecting before it stops the run
    reconnect_for = 30.0

    def __init__(self, url: StateURL, *, read_only: bool = False, reconnect_for: float | None = None) -> None:
        self.url = url
        self.where = str(url)
        self.read_only = read_only
        self.created = False
        self.applied: list[Migration] = []
        if reconnect_for is not None:
            self.reconnect_for = reconnect_for
        self.connection = Connection(self._connect())
        try:
            found = self.version
            if found > VERSION:
                raise NewerStateError(newer_message(self.where, found, VERSION))
            self.exists = read_only is False or found > 0
            if read_only:
                self._open_read_only(found)
            else:
                self.created = found == 0
                self._upgrade()
        except BaseException as exc:
            self.connection.raw.close()
            if isinstance(exc, psycopg.Error):
                raise ConfigurationError(f"state database {self.where}: {_one_line(exc)}") from None
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return _connect(self.url, timeout=10)
        except psycopg.Error as exc:
            why = _one_line(exc)
            raise ConfigurationError(f"state database {self.where}: cannot connect: {why}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.connection.raw.transaction():
            yield self.connection

    def attempt(self, work: Callable[[], T]) -> T:
        """Run ``work``; when the connection is lost (the server restarted, the network
        dropped) or the server aborted it (a deadlock, a serialisation failure), reconnect
        and run it again, backing off up to 5 s, for :attr:`reconnect_for` seconds."""
        deadline: float | None = None
        delay = 0.1
        while True:
            try:
                return work()
            except psycopg.Error as exc:
                if not self._worth_retrying(exc):
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.reconnect_for
                if now >= deadline:
                    raise StateUnavailable(
                        f"state database {self.where}: out of reach for {self.reconnect_for:.0f} s "
                        f"({_one_line(exc)}); nothing more is sent: re-run the same command when it is back"
                    ) from None
                log.warning(
                    "state.reconnecting", where=self.where, reason=_one_line(exc), wait=round(delay, 2)
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._reconnect()

    def _worth_retrying(self, exc: psycopg.Error) -> bool:
        """A lost connection, or a transaction the server rolled back (SQLSTATE class 40: a
        deadlock, a serialisation failure; psycopg's classes for them share no base but
        OperationalError, so the class is read from the code)."""
        raw = self.connection.raw
        return raw.closed or raw.broken or (exc.sqlstate or "").startswith("40")

    def _reconnect(self) -> None:
        raw = self.connection.raw
        if not (raw.closed or raw.broken):
            return
        with contextlib.suppress(psycopg.Error):
            raw.close()
        try:
            fresh = _connect(self.url, timeout=5)
        except psycopg.Error:
            return  # still down: the next attempt fails at once and waits again
        if self.read_only:
            fresh.execute("SET default_transaction_read_only = on")
        self.connection.raw = fresh
        log.info("state.reconnected", where=self.where)

    @property
    def version(self) -> int:
        db = self.connection
        if db.execute("SELECT to_regclass('state_version')").fetchone()[0] is None:
            return 0
        return int(db.execute("SELECT coalesce(max(version), 0) FROM state_version").fetchone()[0])

    def counts(self) -> dict[str, int]:
        if not self.exists:
            return {}
        db = self.connection
        names = [
            row[0]
            for row in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.connection.raw.close()

    def _upgrade(self) -> None:
        """The steps the database lacks, in one transaction, under an advisory lock (another
        process may be doing the same: the version is read again once the lock is held). The
        lock is the session's, taken before the transaction begins: a transaction that began
        before another committed the tables would not see them in the catalog."""
        if self.version == VERSION:
            return
        db = self.connection
        db.execute("SELECT pg_advisory_lock(?)", (_UPGRADE_LOCK,))
        try:
            with self.transaction():
                found = self.version
                if found > VERSION:
                    raise NewerStateError(newer_message(self.where, found, VERSION))
                db.execute(_VERSION_TABLE)
                for step in MIGRATIONS:
                    if step.version > found:
                        for change in step.changes:
                            db.execute(str(change))
                        db.execute(
                            "INSERT INTO state_version VALUES (?, ?, ?)",
                            (step.version, step.why, time.time()),
                        )
                        self.applied.append(step)
        finally:
            if not (db.raw.closed or db.raw.broken):
                db.execute("SELECT pg_advisory_unlock(?)", (_UPGRADE_LOCK,))

    def _open_read_only(self, found: int) -> None:
        db = self.connection
        if found == 0:  # nothing written yet: empty temporary tables stand in
            for step in MIGRATIONS:
                for change in step.changes:
                    text = str(change)
                    if text.startswith("CREATE TABLE"):
                        db.execute(text.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        elif found < VERSION:
            raise ConfigurationError(
                f"{self.where}: the state database is at version {found}, this TierII writes version "
                f"{VERSION}: run `tierii state upgrade` (or any send) to bring it up to date"
            )
        db.execute("SET default_transaction_read_only = on")


def _connect(url: StateURL, *, timeout: int) -> psycopg.Connection[Any]:
    """Autocommit between explicit transactions. No server-side prepared statements: a plan
    prepared while a campaign's table was nearly empty (a sequential scan) would be kept while
    it grows to millions of rows; planned each time, the lookups by address use the index."""
    return psycopg.connect(
        url.url, autocommit=True, connect_timeout=timeout, application_name="tierii", prepare_threshold=None
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return mask_credentials(text[0] if text else type(exc).__name__)
