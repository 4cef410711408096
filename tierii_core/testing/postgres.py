"""PostgreSQL for tests of the state store: a fresh schema on a shared test server, and a
private server a test can stop and start (a restart in the middle of a campaign).

Both stay on 127.0.0.1. psycopg is imported when they are used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from tierii_core.state import StateURL


def plain_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` (what .ci/postgres prints) as libpq reads it."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url


def in_schema(url: str, schema: str) -> StateURL:
    """``url`` with every session's search_path set to ``schema``."""
    base = plain_url(url)
    joiner = "&" if "?" in base else "?"
    return StateURL(f"{base}{joiner}options={quote(f'-csearch_path={schema}')}")


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[StateURL]:
    """A state store URL in a new schema of its own on ``server_url``, dropped afterwards."""
    import psycopg

    schema = f"tierii_{secrets.token_hex(5)}"
    with psycopg.connect(plain_url(server_url), autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield in_schema(server_url, schema)
    finally:
        with psycopg.connect(plain_url(server_url), autocommit=True) as db:
            db.execute(f'DROP SCHEMA "{schema}" CASCADE')


def server_binaries() -> Path | None:
    """Debian's PostgreSQL binaries (initdb, pg_ctl), the newest version installed."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()), key=lambda p: int(p.parent.name)
    )
    return versions[-1] if versions else None


@contextlib.contextmanager
def private_server_for_test() -> Iterator[PrivateServer]:
    """A :class:`PrivateServer` for a pytest test: skipped without the server binaries, failed
    instead when ``TIERII_REQUIRE_POSTGRES=1`` (CI, where ``.ci/postgres`` installs them)."""
    import pytest

    if server_binaries() is None:
        why = "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql: bash .ci/postgres"
        if os.environ.get("TIERII_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TIERII_REQUIRE_POSTGRES=1 but {why}", pytrace=False)
        pytest.skip(why)
    with PrivateServer() as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateServer:
    """A PostgreSQL server of a test's own: its own data directory, 127.0.0.1 and a free port,
    trust authentication (only this machine's loopback reaches it). ``stop()`` and ``start()``
    restart it on the same port. As root, it runs as the ``postgres`` user (PostgreSQL
    refuses root)."""

    def __init__(self, *, fsync: bool = False) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = binaries
        # in /tmp, not under pytest's 0700 tmp_path: the postgres user must reach it
        directory = Path(tempfile.mkdtemp(prefix="tierii-pg-"))
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.fsync = fsync  # off for tests (faster); on for benchmarks, as in production
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.directory,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        if not self.fsync:
            options += " -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> PrivateServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
