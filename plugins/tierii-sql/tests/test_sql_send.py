"""`tierii send` from SQLite and PostgreSQL, through the installed plugin's entry point."""

from __future__ import annotations

import email
import email.policy
import mailbox
import sqlite3
from email.utils import parseaddr
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from tierii_core.cli import cli

PEOPLE = [
    {"Email": "ann@example.com", "first_name": "Ann", "favorite": "gummies"},
    {"Email": "not-an-address", "first_name": "Nobody", "favorite": "-"},
    {"Email": "zoe@example.org", "first_name": "Zoë", "favorite": "pre-rolls"},
    {"Email": "ANN@example.com", "first_name": "Ann again", "favorite": "-"},
    {"Email": "bob@example.net", "first_name": "Bob & Co", "favorite": "tinctures"},
]


@pytest.fixture
def template(tierii_environment) -> Path:
    path = Path("welcome.mustache")
    path.write_text(
        "Subject: {{first_name}}, your {{favorite}} are in\nFrom: Green Leaf <hello@greenleaf.example>\n\n"
        "Hi {{first_name}}!\n",
        encoding="utf-8",
    )
    return path


def send(*args: str):
    """``tierii send --transactional ...``: these tests are about the source, not the marketing rules."""
    return CliRunner().invoke(cli, ["send", "--transactional", *args], catch_exceptions=False)


def delivered(outbox: Path) -> dict[str, str]:
    def parse(file):
        return email.message_from_binary_file(file, policy=email.policy.default)

    return {
        parseaddr(m["To"])[1]: str(m["Subject"]) for m in mailbox.Maildir(outbox, factory=parse, create=False)
    }


def check_campaign(location: str, template: Path) -> None:
    result = send(location, "-t", str(template), "--outbox", "outbox")
    assert result.exit_code == 1, result.output  # the row without a valid address failed
    assert delivered(Path("outbox")) == {
        "ann@example.com": "Ann, your gummies are in",
        "zoe@example.org": "Zoë, your pre-rolls are in",
        "bob@example.net": "Bob & Co, your tinctures are in",
    }
    assert "failed: 1" in result.output and "excluded: 1" in result.output  # excluded: the repeat


def test_send_from_a_sqlite_table(template, sqlite_db, table_writer):
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    check_campaign(f"sqlite:///{path}?table=contacts", template)


def test_send_from_a_postgres_table(template, postgres_schema, postgres_location, table_writer):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", PEOPLE, schema=schema)
    check_campaign(postgres_location(f"{schema}.contacts"), template)


def test_send_from_a_query_in_the_settings(template, sqlite_db, table_writer, tierii_environment):
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    tierii_environment.setenv("TIERII_SQL_QUERY", "SELECT * FROM contacts WHERE favorite <> '-'")
    result = send(f"sqlite:///{path}", "-t", str(template), "--outbox", "outbox")
    assert result.exit_code == 0, result.output
    assert sorted(delivered(Path("outbox"))) == ["ann@example.com", "bob@example.net", "zoe@example.org"]


def test_missing_table_exits_2_and_sends_nothing(template, sqlite_db, table_writer):
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    result = send(f"sqlite:///{path}?table=customers", "-t", str(template), "--outbox", "outbox")
    assert result.exit_code == 2
    assert "table customers not found (tables: contacts)" in result.output
    assert not Path("outbox").exists()


def test_unreachable_database_exits_2_without_the_password(template):
    location = "postgresql://crm:Secret-Pa55@127.0.0.1:1/crm?table=contacts"
    result = send(location, "-t", str(template), "--outbox", "outbox")
    assert result.exit_code == 2
    assert "Secret-Pa55" not in result.output
    assert "crm:***@127.0.0.1:1" in result.output


def test_dry_run_streams_a_large_table(template, sqlite_db, table_writer):
    engine, path = sqlite_db
    rows = ({"email": f"c{i}@example.com", "first_name": f"C{i}", "favorite": "x"} for i in range(5_000))
    table_writer(engine, "contacts", rows)
    result = send(f"sqlite:///{path}?table=contacts", "-t", str(template), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: 5000 would be sent" in result.output


def test_the_postgres_password_never_reaches_the_state_dir_or_the_output(
    template, postgres_schema, postgres_location, table_writer
):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", PEOPLE, schema=schema)
    location = postgres_location(f"{schema}.contacts")
    password = make_url(location).password
    assert password and password in location
    result = send(location, "-t", str(template), "--outbox", "outbox", "--report", "report.json")
    assert result.exit_code == 1, result.output  # one row has no valid address: failed
    state = Path(".tierii")
    for path in [*state.iterdir(), Path("report.json")]:
        assert password.encode() not in path.read_bytes(), path
    assert password not in result.output
    db = sqlite3.connect(state / "journal.sqlite3")
    (stored,) = db.execute("SELECT source FROM campaigns").fetchone()
    db.close()
    assert stored == make_url(location).render_as_string(hide_password=True)


def test_with_tierii_sql_disabled_the_url_is_named_without_its_password(template, tierii_environment):
    tierii_environment.setenv("TIERII_DISABLE_PLUGINS", "tierii-sql")
    result = send("postgresql://crm:Secret-Pa55@127.0.0.1:1/crm?table=contacts", "-t", str(template))
    assert result.exit_code == 2
    assert "Secret-Pa55" not in result.output
    assert "postgresql://crm:***@127.0.0.1:1/crm?table=contacts" in result.output


def test_a_sqlite_url_with_two_slashes_says_how_to_write_it(template, sqlite_db, table_writer):
    result = send("sqlite://crm.db?table=contacts", "-t", str(template), "--dry-run")
    assert result.exit_code == 2
    assert "sqlite://crm.db" in result.output and "sqlite:///crm.db" in result.output
    assert "three slashes" in result.output


@pytest.mark.parametrize(("option", "value"), [("check_same_thread", "maybe"), ("timeout", "abc")])
def test_a_bad_sqlite_driver_option_is_named(template, sqlite_db, table_writer, option, value):
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    result = CliRunner().invoke(
        cli,
        ["send", "--transactional", f"sqlite:///{path}?table=contacts&{option}={value}", "-t", str(template)],
    )
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, (ValueError, TypeError)), repr(result.exception)
    assert f"{option}={value}" in result.output and "driver option" in result.output


def test_a_bad_postgres_driver_option_is_named_without_the_password(
    template, postgres_schema, postgres_location, table_writer
):
    engine, schema = postgres_schema
    table_writer(engine, "contacts", PEOPLE, schema=schema)
    location = postgres_location(f"{schema}.contacts", prepare_threshold="abc", sslpassword="k3y-w0rd")
    result = CliRunner().invoke(cli, ["send", "--transactional", location, "-t", str(template)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, (ValueError, TypeError)), repr(result.exception)
    assert "prepare_threshold=abc" in result.output and "driver option" in result.output
    assert make_url(location).password not in result.output and "k3y-w0rd" not in result.output
