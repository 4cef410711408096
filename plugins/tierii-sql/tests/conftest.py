"""Databases for the tierii-sql tests: SQLite files, and the PostgreSQL server of .ci/postgres."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, create_engine, insert, text
from sqlalchemy.engine import make_url

# the kit's fixtures (pytest_plugins is only honoured in a top-level conftest)
from tierii_core.testing.fixtures import tierii_environment  # noqa: F401

CHUNK = 5_000

WriteTable = Callable[..., str]


def write_table(
    engine: Engine, name: str, records: Iterable[Mapping[str, object]], schema: str | None = None
) -> None:
    """A table ``name`` with an ``id`` primary key and one TEXT column per key of the records."""
    rows = iter(records)
    first = next(rows, None)
    columns = list(first) if first is not None else ["email"]
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        *(Column(c, Text) for c in columns),
        schema=schema,
    )
    with engine.begin() as connection:
        table.create(connection)
        batch: list[Mapping[str, object]] = []
        for row in itertools.chain([first] if first is not None else [], rows):
            batch.append(row)
            if len(batch) >= CHUNK:
                connection.execute(insert(table), batch)
                batch = []
        if batch:
            connection.execute(insert(table), batch)


@pytest.fixture
def table_writer() -> Callable[..., None]:
    """``table_writer(engine, name, records, schema=None)``: see :func:`write_table`."""
    return write_table


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """An empty SQLite database file."""
    path = tmp_path / "crm.db"
    engine = create_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL; skips without one unless TIERII_REQUIRE_POSTGRES=1."""
    url = os.environ.get("TIERII_TEST_POSTGRES_URL", "").strip()
    if not url:
        why = 'no PostgreSQL server: set TIERII_TEST_POSTGRES_URL (eval "$(bash .ci/postgres)" starts one)'
        if os.environ.get("TIERII_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TIERII_REQUIRE_POSTGRES=1 but {why}", pytrace=False)
        pytest.skip(why)
    return url


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[tuple[Engine, str]]:
    """A fresh schema on the test server, dropped afterwards."""
    engine = create_engine(postgres_url)
    schema = f"t_{secrets.token_hex(5)}"
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield engine, schema
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def postgres_location(postgres_url: str) -> Callable[..., str]:
    """``postgres_location("s.contacts", application_name="x")``: a location on the test server."""

    def location(table: str | None = None, **parameters: str) -> str:
        url = make_url(postgres_url)
        if table is not None:
            parameters = {"table": table, **parameters}
        return url.update_query_dict(parameters).render_as_string(hide_password=False)

    return location
