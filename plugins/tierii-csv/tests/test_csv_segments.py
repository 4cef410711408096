"""`tierii send/preview --where` on a CSV file: only the segment is sent and journalled."""

from __future__ import annotations

import json
import mailbox
from email.utils import parseaddr
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.testing.fixtures import tierii_environment, tierii_state_dir  # noqa: F401

ROWS = [
    ("ann@example.com", "Ann", "CA", "edibles;vape", "1990-01-01"),
    ("bo@example.com", "Bo", "NV", "edibles", "1985-06-01"),
    ("cy@example.com", "Cy", "CA", "flower", "2010-03-03"),  # under 21
    ("di@example.com", "Di", "OR", "edibles", "1970-12-12"),
    ("ed@example.com", "Ed", "CA", "edibles", "1999-09-09"),
]


@pytest.fixture
def campaign(tierii_state_dir: Path) -> tuple[Path, Path]:  # noqa: F811
    contacts = Path("contacts.csv")
    lines = ["email,first_name,state,tags,birthdate"] + [",".join(row) for row in ROWS]
    contacts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    template = Path("t.mustache")
    template.write_text(
        "Subject: Hi {{first_name}}\nFrom: Shop <shop@example.com>\n\nHello\n", encoding="utf-8"
    )
    return contacts, template


def tierii(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def recipients(outbox: Path) -> list[str]:
    return sorted(parseaddr(m["To"])[1] for m in mailbox.Maildir(outbox, create=False))


def test_only_the_segment_is_sent_and_only_it_reaches_the_journal(campaign) -> None:
    contacts, template = campaign
    where = ['--where=state in ("CA", "NV")', '--where="edibles" in tags', "--where=age >= 21"]
    result = tierii("send", str(contacts), "-t", str(template), "--transactional", "--outbox", "out", *where)
    assert result.exit_code == 0, result.output
    assert recipients(Path("out")) == ["ann@example.com", "bo@example.com", "ed@example.com"]
    assert "not in segment (--where; not recipients): 2" in result.stdout
    assert "excluded: 0" in result.stdout  # not in the segment is not an exclusion
    assert "tierii report " in tierii("status").stdout  # the way to the campaign's record
    status = json.loads(tierii("status", "--json", "--list", "all").stdout)
    assert status["counts"]["sent"] == 3 and sum(status["counts"].values()) == 3
    # the segment is not part of the campaign: the rest of the file later gets it once
    result = tierii("send", str(contacts), "-t", str(template), "--transactional", "--outbox", "out")
    assert result.exit_code == 0, result.output
    assert recipients(Path("out")) == sorted(row[0] for row in ROWS)
    assert "already done in an earlier run: 3" in result.stdout


def test_an_unknown_column_stops_before_anything_is_sent(campaign) -> None:
    contacts, template = campaign
    result = tierii(
        "send",
        str(contacts),
        "-t",
        str(template),
        "--transactional",
        "--outbox",
        "out",
        "--where",
        'stat == "CA"',
    )
    assert result.exit_code == 2
    assert "no column 'stat' (column 1 of the expression) in contacts.csv" in result.stderr
    assert "did you mean state?" in result.stderr
    assert not Path("out").exists()


def test_a_bad_expression_names_the_column_and_exits_2(campaign) -> None:
    contacts, template = campaign
    result = tierii("send", str(contacts), "-t", str(template), "--dry-run", "--where", "state = 'CA'")
    assert result.exit_code == 2
    assert "unexpected '=' at column 7" in result.stderr
    assert "Traceback" not in result.output


def test_preview_shows_only_the_segment(campaign) -> None:
    contacts, template = campaign
    result = tierii(
        "preview", str(contacts), "-t", str(template), "--transactional", "--where", 'state == "OR"'
    )
    assert result.exit_code == 0, result.output
    assert "To: Di <di@example.com>" in result.stdout
    assert result.stdout.count("----- ") == 1


def test_a_row_outside_the_segment_never_makes_a_later_row_a_repeat(campaign) -> None:
    _, template = campaign
    Path("moved.csv").write_text(
        "email,first_name,state\nann@example.com,Ann,NV\nann@example.com,Ann,CA\n", encoding="utf-8"
    )
    args = ["send", "moved.csv", "-t", str(template), "--transactional", "--outbox", "out"]
    result = tierii(*args, "--where", 'state == "CA"')
    assert result.exit_code == 0, result.output
    assert recipients(Path("out")) == ["ann@example.com"]
    assert "excluded: 0" in result.stdout and "not in segment (--where; not recipients): 1" in result.stdout


def test_an_unknown_column_is_found_even_when_no_row_is_in_the_segment(campaign) -> None:
    contacts, template = campaign
    args = ["send", str(contacts), "-t", str(template), "--transactional", "--outbox", "out"]
    result = tierii(*args, "--where", 'state == "XX"', "--where", 'stat == "CA"')
    assert result.exit_code == 2
    assert "no column 'stat'" in result.stderr
