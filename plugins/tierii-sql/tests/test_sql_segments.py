"""--where on a database: simple text comparisons go into the query; the core checks the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from tierii_core.cli import cli
from tierii_core.contacts import contacts_from
from tierii_core.segments import Segment
from tierii_core.testing.fixtures import tierii_state_dir  # noqa: F401
from tierii_sql.source import SqlSettings, SqlSource

PEOPLE = [
    {"email": f"p{i}@example.com", "first_name": f"P{i}", "state": state, "score": str(i)}
    for i, state in enumerate(["CA", "NV", "CA", "OR", "CA", "NV", None])
]


def read(location: str, *where: str) -> tuple[list[str], int, list[str]]:
    """The addresses the source yields, what it says it left out, and the SQL it ran."""
    source = SqlSource(location, SqlSettings())
    source.narrow(Segment.parse(where))
    statements: list[str] = []
    engine_factory = source.reader._engine

    def engine():
        created = engine_factory()
        event.listen(created, "before_cursor_execute", lambda *a: statements.append(a[2]))
        return created

    source.reader._engine = engine  # to see the SQL: the behaviour is what the rows show
    emails = [record.email for record in contacts_from(source)]
    return emails, source.left_out, statements


def test_text_comparisons_are_pushed_into_the_query(sqlite_db, table_writer) -> None:
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    emails, left_out, statements = read(
        f"sqlite:///{path}?table=contacts", 'state in ("CA", "NV")', 'state != "NV"'
    )
    assert emails == ["p0@example.com", "p2@example.com", "p4@example.com"]
    assert left_out == 4  # NV twice, OR, and the NULL state
    assert any("WHERE" in sql and "IN" in sql for sql in statements)


def test_what_the_database_cannot_compare_like_tierii_is_left_to_the_core(sqlite_db, table_writer) -> None:
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    emails, left_out, _ = read(f"sqlite:///{path}?table=contacts", 'score >= 3 or state == "CA"')
    assert len(emails) == len(PEOPLE) and left_out == 0  # nothing pushed: an `or`, a number


@pytest.fixture
def template(tierii_state_dir) -> Path:  # noqa: F811
    path = Path("t.mustache")
    path.write_text("Subject: Hi {{first_name}}\nFrom: Shop <shop@example.com>\n\nHello\n", encoding="utf-8")
    return path


def test_send_counts_both_the_databases_and_the_cores_left_out(template, sqlite_db, table_writer) -> None:
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    args = [
        "send",
        "--transactional",
        f"sqlite:///{path}?table=contacts",
        "-t",
        str(template),
        "--outbox",
        "out",
    ]
    result = CliRunner().invoke(cli, [*args, "--where", 'state == "CA"', "--where", "score >= 2"])
    assert result.exit_code == 0, result.output
    assert "sent: 2" in result.stdout  # p2 and p4
    assert "not in segment (--where; not recipients): 5" in result.stdout  # 4 by SQL, p0 by the core


def test_an_unknown_column_exits_2(template, sqlite_db, table_writer) -> None:
    engine, path = sqlite_db
    table_writer(engine, "contacts", PEOPLE)
    args = [
        "send",
        "--transactional",
        f"sqlite:///{path}?table=contacts",
        "-t",
        str(template),
        "--outbox",
        "out",
    ]
    result = CliRunner().invoke(cli, [*args, "--where", 'stae == "CA"'])
    assert result.exit_code == 2
    assert "no column 'stae'" in result.stderr and "did you mean state?" in result.stderr
