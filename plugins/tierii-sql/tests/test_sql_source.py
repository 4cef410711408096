"""The sql source on real databases: origins, order, values, read-only, errors, streaming."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text

from tierii_core.contacts import UNREADABLE, contacts_from
from tierii_core.errors import RunStopped, SourceError
from tierii_core.models import Contact, Rejected
from tierii_sql.source import SqlSettings, SqlSource

CONTACTS = [
    {"email": "ann@example.com", "first_name": "Ann"},
    {"email": "bob@example.com", "first_name": "Bob"},
]


def read(location: str, **settings) -> list:
    """The records as the core uses them: addresses checked and de-duplicated by the core."""
    return list(contacts_from(SqlSource(location, SqlSettings(**settings))))


@pytest.fixture
def crm(sqlite_db, table_writer):
    """A SQLite file with a `contacts` table; returns (engine, "sqlite:///path")."""
    engine, path = sqlite_db
    table_writer(engine, "contacts", CONTACTS)
    return engine, f"sqlite:///{path}"


# -- origins and order ----------------------------------------------------------------------


def test_origins_name_the_table_the_row_and_its_key(crm):
    _, url = crm
    assert [r.origin for r in read(f"{url}?table=contacts")] == [
        "table contacts row 1 (id=1)",
        "table contacts row 2 (id=2)",
    ]


def test_rows_come_in_primary_key_order(sqlite_db):
    engine, path = sqlite_db
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (code TEXT PRIMARY KEY, email TEXT)"))
        connection.execute(text("INSERT INTO people VALUES ('c', 'c@example.com'), ('a', 'a@example.com')"))
    records = read(f"sqlite:///{path}?table=people")
    assert [(r.email, r.origin) for r in records] == [
        ("a@example.com", "table people row 1 (code=a)"),
        ("c@example.com", "table people row 2 (code=c)"),
    ]


def test_query_rows_are_numbered(crm):
    _, url = crm
    records = read(url, query="SELECT email, upper(first_name) AS shout FROM contacts ORDER BY email DESC")
    assert [(r.email, r.fields["shout"], r.origin) for r in records] == [
        ("bob@example.com", "BOB", "query row 1"),
        ("ann@example.com", "ANN", "query row 2"),
    ]


# -- values ---------------------------------------------------------------------------------


def test_values_become_the_text_a_template_shows(sqlite_db):
    engine, path = sqlite_db
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE t (email TEXT, visits INTEGER, spent NUMERIC, "
                "vip BOOLEAN, seen DATE, note TEXT)"
            )
        )
        connection.execute(
            text("INSERT INTO t VALUES (:e, :v, :s, :b, :d, NULL)"),
            {"e": "ann@example.com", "v": 42, "s": 12.5, "b": True, "d": "2024-03-01"},
        )
    [contact] = read(f"sqlite:///{path}?table=t")
    assert contact.fields == {
        "email": "ann@example.com",
        "visits": "42",
        "spent": "12.5",
        "vip": "1",  # SQLite keeps booleans as 0/1 (which consent rules accept)
        "seen": "2024-03-01",
        "note": None,  # NULL: a missing variable, never ""
    }


def test_postgres_typed_values(postgres_schema, postgres_location):
    engine, schema = postgres_schema
    with engine.begin() as connection:
        connection.execute(
            text(
                f'CREATE TABLE "{schema}".typed (email TEXT, born DATE, at TIMESTAMPTZ, spent NUMERIC(8,2), '
                "vip BOOLEAN, visits BIGINT, raw BYTEA)"
            )
        )
        connection.execute(
            text(
                f'INSERT INTO "{schema}".typed VALUES (:e, :d, :t, :s, true, 7, :r), '
                "(:e2, NULL, NULL, NULL, false, 0, :bad)"
            ),
            {
                "e": "ann@example.com",
                "d": datetime.date(1990, 5, 17),
                "t": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                "s": Decimal("12.50"),
                "r": "Zoë".encode(),
                "e2": "bob@example.com",
                "bad": b"\xff\xfe",
            },
        )
    first, second = read(postgres_location(f"{schema}.typed"))
    assert isinstance(first, Contact)
    assert first.fields["born"] == "1990-05-17"
    assert first.fields["at"].startswith("2024-01-02T03:04:05")
    assert (first.fields["spent"], first.fields["vip"], first.fields["visits"], first.fields["raw"]) == (
        "12.50",
        "true",
        "7",
        "Zoë",
    )
    assert isinstance(second, Rejected) and "column 'raw' holds bytes that are not UTF-8" in second.reason
    assert second.code == UNREADABLE


# -- tierii never writes --------------------------------------------------------------------


def test_sqlite_query_cannot_write(crm):
    engine, url = crm
    with pytest.raises(SourceError, match="readonly"):
        read(url, query="DELETE FROM contacts RETURNING email")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 2


def test_postgres_query_cannot_write(postgres_schema, postgres_location, table_writer):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", CONTACTS, schema=schema)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SEQUENCE "{schema}".counter'))
    with pytest.raises(SourceError, match="read-only transaction"):
        read(
            postgres_location(), query=f"SELECT email, nextval('{schema}.counter') FROM \"{schema}\".contacts"
        )
    with engine.connect() as connection:
        assert connection.execute(text(f'SELECT is_called FROM "{schema}".counter')).scalar_one() is False


# -- nothing readable: exit 2, with the place named --------------------------------------------


def test_missing_table_lists_the_tables(crm):
    _, url = crm
    with pytest.raises(SourceError, match=r"table contats not found \(tables: contacts\)"):
        read(f"{url}?table=contats")


def test_missing_email_column_lists_the_columns(crm):
    _, url = crm
    with pytest.raises(SourceError, match=r"query has no 'email' column \(columns: 'first_name'\)"):
        read(url, query="SELECT first_name FROM contacts")


def test_bad_query_names_the_problem(crm):
    _, url = crm
    with pytest.raises(SourceError, match="no such column: nope"):
        read(url, query="SELECT nope FROM contacts")


def test_statement_without_rows(crm):
    _, url = crm
    with pytest.raises(SourceError, match="returns no rows"):
        read(url, query="PRAGMA foreign_keys = ON")


def test_missing_sqlite_file_is_not_created(tmp_path):
    with pytest.raises(SourceError, match="no such database file"):
        read(f"sqlite:///{tmp_path / 'crm.db'}?table=contacts")
    assert not (tmp_path / "crm.db").exists()


def test_unreachable_server_never_shows_the_password():
    location = "postgresql://crm_user:Sup3r-Secret@127.0.0.1:1/crm?table=contacts"
    with pytest.raises(SourceError) as caught:
        read(location)
    message = str(caught.value)
    assert "Sup3r-Secret" not in message
    assert "postgresql+psycopg://crm_user:***@127.0.0.1:1/crm" in message
    assert "Connection refused" in message


def test_wrong_password_never_shows_it(postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(password="Wr0ng-Passw0rd").update_query_dict({"table": "contacts"})
    with pytest.raises(SourceError) as caught:
        read(url.render_as_string(hide_password=False))
    assert "Wr0ng-Passw0rd" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)


def test_estimate_is_the_row_count_for_a_table_and_none_for_a_query(crm):
    _, url = crm
    assert SqlSource(f"{url}?table=contacts", SqlSettings()).estimate_count() == 2
    assert SqlSource(url, SqlSettings(query="SELECT * FROM contacts")).estimate_count() is None
    with pytest.raises(SourceError, match="not found"):
        SqlSource(f"{url}?table=nope", SqlSettings()).estimate_count()


# -- streaming on PostgreSQL ---------------------------------------------------------------


def _backend(engine, application_name: str):
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT pid, query FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name},
        ).one()


def test_postgres_rows_come_through_a_server_side_cursor(postgres_schema, postgres_location, table_writer):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", ({"email": f"c{i}@example.com"} for i in range(100)), schema=schema)
    location = postgres_location(f"{schema}.contacts", application_name="tierii-cursor-test")
    records = iter(SqlSource(location, SqlSettings(fetch_size=10)))
    for _ in range(15):  # into the second fetch
        next(records)
    _, query = _backend(engine, "tierii-cursor-test")
    assert query.startswith("FETCH FORWARD 10 FROM"), (
        f"expected a server-side cursor, the backend ran {query!r}"
    )
    assert sum(1 for _ in records) == 85


def test_connection_lost_mid_stream_stops_the_run_safely(postgres_schema, postgres_location, table_writer):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", ({"email": f"c{i}@example.com"} for i in range(100)), schema=schema)
    location = postgres_location(f"{schema}.contacts", application_name="tierii-lost-test")
    records = iter(SqlSource(location, SqlSettings(fetch_size=10)))
    for _ in range(5):
        next(records)
    pid, _ = _backend(engine, "tierii-lost-test")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    with pytest.raises(RunStopped, match=r"re-run the same command to resume") as caught:
        for _ in records:
            pass
    assert "tierii-test-only" not in str(caught.value)


def test_two_sources_stream_side_by_side(crm):
    """Each iteration has its own connection: the source holds no state between runs."""
    _, url = crm
    location = f"{url}?table=contacts"
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append([r.email for r in read(location)])) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [["ann@example.com", "bob@example.com"]] * 2
