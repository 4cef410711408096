"""`tierii send --at` a couple of seconds ahead, on the real clock: it starts on time."""

from __future__ import annotations

import email
import email.policy
import mailbox
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.schedule import POLL_SECONDS
from tierii_core.testing.fixtures import tierii_environment, tierii_state_dir  # noqa: F401


def write_campaign() -> list[str]:
    Path("contacts.csv").write_text("email,name\na@example.com,A\nb@example.com,B\n", encoding="utf-8")
    Path("t.mustache").write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello\n", encoding="utf-8")
    return ["send", "contacts.csv", "-t", "t.mustache", "--transactional", "--outbox", "out"]


def test_at_a_few_seconds_ahead_starts_on_time(tierii_state_dir) -> None:  # noqa: F811
    args = write_campaign()
    at = (datetime.now(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0)
    result = CliRunner().invoke(cli, [*args, "--at", f"{at:%Y-%m-%d %H:%M:%S}", "--timezone", "UTC"])
    assert result.exit_code == 0, result.output
    assert "schedule: starts at" in result.stderr
    dates = [
        parsedate_to_datetime(email.message_from_bytes(m.as_bytes(), policy=email.policy.default)["Date"])
        for m in mailbox.Maildir("out", create=False)
    ]
    assert len(dates) == 2
    # the Date header (whole seconds) is when each message was built: at the moment, not before
    assert all(at <= d <= at + timedelta(seconds=POLL_SECONDS + 2) for d in dates), (at, dates)


def test_schedules_are_checked_before_anything_is_sent(tierii_state_dir) -> None:  # noqa: F811
    args = write_campaign()
    runner = CliRunner()
    past = runner.invoke(cli, [*args, "--at", "2020-01-01 09:00", "--timezone", "America/New_York"])
    assert past.exit_code == 2 and "is in the past" in past.stderr
    dry = runner.invoke(cli, [*args, "--dry-run", "--at", "2099-01-01 09:00"])
    assert dry.exit_code == 2 and "not with --dry-run or --proof" in dry.output
    bad = runner.invoke(cli, [*args, "--window", "9am-6pm"])
    assert bad.exit_code == 2 and "--window '9am-6pm': expected HH:MM-HH:MM" in bad.stderr
    assert not Path("out").exists()
