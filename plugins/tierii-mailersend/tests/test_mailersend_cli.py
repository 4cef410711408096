"""End to end: ``tierii send`` and ``tierii check`` with the mailersend provider, against the
local MailerSend (CSV -> strict templates -> bulk requests -> per-recipient outcomes)."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tierii_core.cli import cli
from tierii_mailersend.testing import LocalMailerSend, RateLimit, per_recipient
from tierii_mailersend.testing.fixtures import FAST_SETTINGS

TEMPLATE = """\
Subject: Hello {{first_name}}, your code {{code}}
From: The Shop <shop@{{domain}}>

Dear {{first_name}},

your personal code is {{code}}.

--
Advertisement.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""

#: a marketing campaign: the core's compliance rules want these
MARKETING = {
    "TIERII_SENDER_ADDRESS": "The Shop, 1 Main Street, Springfield",
    "TIERII_UNSUBSCRIBE_URL": "https://shop.example/unsubscribe",
    "TIERII_UNSUBSCRIBE_SECRET": "a-long-enough-secret-for-signing-links",
}


def write_contacts(
    path: Path, count: int, *, odd_domain: dict[int, str] | None = None
) -> list[dict[str, str]]:
    rows = [
        {
            "email": f"person{i}@example.com",
            "first_name": f"Name{i}",
            "code": f"C{i:05d}",
            "domain": (odd_domain or {}).get(i, "example.com"),
        }
        for i in range(count)
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no stray .env), state and template inside it."""
    for name in list(os.environ):
        if name.startswith("TIERII_") and not name.startswith("TIERII_MAILERSEND_BASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path


def point_at(api: LocalMailerSend, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    for name, value in {**api.environment(), **FAST_SETTINGS, **MARKETING, **extra}.items():
        monkeypatch.setenv(name, value)


def send(*args: str) -> Result:
    return CliRunner().invoke(cli, ["send", "contacts.csv", "-t", "welcome.mustache", *args])


def assert_each_got_exactly_their_own(api: LocalMailerSend, rows: list[dict[str, str]]) -> None:
    counts = per_recipient(api.messages)
    assert set(counts) == {r["email"] for r in rows}
    assert set(counts.values()) == {1}
    by_recipient = {m.recipient: m for m in api.messages}
    for row in rows:
        message = by_recipient[row["email"]]
        assert message.subject == f"Hello {row['first_name']}, your code {row['code']}"
        assert f"Dear {row['first_name']}," in message.text
        assert f"your personal code is {row['code']}." in message.text
        # the recipient's own one-click link reaches MailerSend as list_unsubscribe (a custom
        # header cannot replace MailerSend's own List-Unsubscribe)
        unsubscribe = message.list_unsubscribe
        assert unsubscribe and unsubscribe.startswith("https://shop.example/unsubscribe")
        assert unsubscribe in message.text
        assert message.header("List-Unsubscribe") is None
    links = {m.list_unsubscribe for m in api.messages}
    assert len(links) == len(rows)  # one link per recipient


def test_1200_contacts_go_out_in_3_bulk_requests(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = write_contacts(workdir / "contacts.csv", 1200)
    with LocalMailerSend(bulk_delay=0.02, limits={"bulk-email": None, "other": None}) as api:
        point_at(api, monkeypatch)
        result = send("--report", "report.json")  # TIERII_PROVIDER=auto picks mailersend: its token is set
        assert result.exit_code == 0, result.output
        assert "provider mailersend" in result.stderr
        assert api.count("bulk-email") == 3
        assert api.count("email") == 0
        assert_each_got_exactly_their_own(api, rows)
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"], report["unknown"]) == (1200, 0, 0)


def test_a_burst_of_429s_slows_the_run_and_loses_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 400)
    with LocalMailerSend(bulk_delay=0.01, limits={"bulk-email": None, "other": None}) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="100")
        api.faults.fail(429, times=3, endpoint="bulk-email", retry_after=0.2)
        result = send()
        assert result.exit_code == 0, result.output
        assert_each_got_exactly_their_own(api, rows)
        posts = [r for r in api.requests if r.endpoint == "bulk-email"]
    assert [r.status for r in posts] == [429, 429, 429, 202, 202, 202, 202]
    # each retry came at least retry-after (0.2 s) after the 429 it answers: the run slowed down
    for refused, retry in itertools.pairwise(posts[:4]):
        assert retry.at - refused.at >= 0.2


def test_a_real_per_minute_limit_loses_nothing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server allows 2 bulk requests per 0.25 s window; TierII is told a higher limit, so
    the 429s happen and the retries (honouring retry-after) still deliver everyone once."""
    rows = write_contacts(workdir / "contacts.csv", 800)
    with LocalMailerSend(
        bulk_delay=0.0, limits={"bulk-email": RateLimit(2, window=0.25), "other": None}
    ) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="100")
        result = send()
        assert result.exit_code == 0, result.output
        assert_each_got_exactly_their_own(api, rows)
        assert api.count("bulk-email", 202) == 8


def test_a_validation_error_fails_only_the_recipient_it_names(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 30, odd_domain={17: "unverified.example"})
    with LocalMailerSend(
        bulk_delay=0.01, verified_domains=["example.com"], limits={"bulk-email": None, "other": None}
    ) as api:
        point_at(api, monkeypatch)
        result = send("--report", "report.json")
        assert result.exit_code == 1, result.output
        assert_each_got_exactly_their_own(api, [r for i, r in enumerate(rows) if i != 17])
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"]) == (29, 1)
    (failure,) = report["failures"]
    assert failure["email"] == "person17@example.com"
    assert "#MS42207" in failure["reason"]
    assert "person17@example.com" in result.stderr


def test_a_wrong_token_exits_3_with_a_clear_message_and_sends_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 50)
    wrong = "mlsn.wrong-token-123456"
    with LocalMailerSend(bulk_delay=0.01) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_API_TOKEN=wrong)
        # a real process: the exit code and the message as a user sees them
        process = subprocess.run(
            [
                sys.executable,
                "-c",
                "from tierii_core.cli import main; main()",
                "send",
                "contacts.csv",
                "-t",
                "welcome.mustache",
                "--report",
                "report.json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert process.returncode == 3, process.stderr
        assert "MailerSend refused the API token" in process.stderr
        assert "TIERII_MAILERSEND_API_TOKEN" in process.stderr
        assert wrong not in process.stdout + process.stderr
        assert api.messages == []
        assert api.count("bulk-email") == api.count("email") == 0
    report = json.loads((workdir / "report.json").read_text())
    assert report["sent"] == 0
    assert report["exit_code"] == 3


def test_check_tests_the_token_and_shows_the_quota(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalMailerSend(daily_quota=1000) as api:
        point_at(api, monkeypatch)
        result = CliRunner().invoke(cli, ["check", "--provider", "mailersend"])
    assert result.exit_code == 0, result.output
    assert "TIERII_MAILERSEND_API_TOKEN = ********" in result.output
    assert "1000 requests a day, 1000 left" in result.output
    assert api.token not in result.output


def test_check_with_a_wrong_token_fails_clearly(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalMailerSend() as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_API_TOKEN="mlsn.nope-nope")
        result = CliRunner().invoke(cli, ["check", "--provider", "mailersend"])
    assert result.exit_code == 3
    assert "FAIL api quota: MailerSend refused the API token (401 Unauthenticated.)" in result.output
    assert "mlsn.nope-nope" not in result.output


def test_a_bad_setting_is_exit_2_naming_the_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_contacts(workdir / "contacts.csv", 3)
    with LocalMailerSend() as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="1000")
        result = send()
        assert result.exit_code == 2
        assert "TIERII_MAILERSEND_BULK_SIZE" in result.output
        assert "from 1 to 500" in result.output
        assert api.requests == []


def test_choosing_mailersend_without_a_token_stops_with_a_clear_message(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 3)
    with LocalMailerSend() as api:
        point_at(api, monkeypatch)
        monkeypatch.delenv("TIERII_MAILERSEND_API_TOKEN")
        result = send("--provider", "mailersend")
        # the provider raises ConfigurationError from open(): a configuration error, nothing sent
        assert result.exit_code == 2, result.output
        assert "set TIERII_MAILERSEND_API_TOKEN" in result.output
        assert api.messages == []


def test_a_429_with_several_workers_slows_the_run_and_loses_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # worker 1: the batch of person0..99 gets a 429 (retry after 2 s); worker 2: the batch of
    # person100..199, all from an unverified domain, is answered after 0.5 s and fails permanently
    unverified = {i: "unverified.example" for i in range(100, 200)}
    rows = write_contacts(workdir / "contacts.csv", 300, odd_domain=unverified)
    with LocalMailerSend(
        bulk_delay=0.01, verified_domains=["example.com"], limits={"bulk-email": None, "other": None}
    ) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="100", TIERII_CONCURRENCY="2")
        api.faults.fail(429, endpoint="bulk-email", recipient="person0@example.com", retry_after=2)
        api.faults.slow(0.5, endpoint="bulk-email", recipient="person100@example.com")
        result = send()
        assert result.exit_code == 1, result.output  # the 100 unverified ones failed, nothing stopped
        assert_each_got_exactly_their_own(api, rows[:100] + rows[200:])


# -- plans without custom headers (issue 15.4) ------------------------------------------------------


def test_on_a_hobby_plan_the_default_learns_to_use_mailersends_header_and_loses_nobody(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 1000)
    with LocalMailerSend(bulk_delay=0.01, plan="hobby", limits={"bulk-email": None, "other": None}) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="100")
        result = send("--concurrency", "4")
        assert result.exit_code == 0, result.output
        counts = per_recipient(api.messages)
        assert set(counts) == {r["email"] for r in rows} and set(counts.values()) == {1}
        assert {m.list_unsubscribe for m in api.messages} == {None}  # MailerSend's own header
        # one request asked with TierII's header while the other workers waited: one refusal,
        # not one per worker (four would also have opened the circuit breaker)
        assert api.count("bulk-email", 202) == 10 + 1
    assert result.stderr.count('"mailersend.unsubscribe_header"') == 1


def test_on_a_hobby_plan_ours_stops_the_run_before_more_is_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 300)
    with LocalMailerSend(bulk_delay=0.01, plan="hobby", limits={"bulk-email": None, "other": None}) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_BULK_SIZE="100", TIERII_MAILERSEND_UNSUBSCRIBE="ours")
        result = send()
        assert result.exit_code == 3, result.output
        assert "TIERII_MAILERSEND_UNSUBSCRIBE=mailersend" in result.output
        assert api.messages == []
        point_at(api, monkeypatch, TIERII_MAILERSEND_UNSUBSCRIBE="mailersend")
        again = send()  # the user follows the advice: everyone gets it, once
        assert again.exit_code == 0, again.output
        assert set(per_recipient(api.messages).values()) == {1} and len(api.messages) == 300


@pytest.mark.parametrize(
    ("mode", "refusing_rule"), [("ours", "one-click-unsubscribe"), ("mailersend", "unsubscribe-link")]
)
def test_the_compliance_gate_knows_whose_one_click_header_goes_out(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, mode: str, refusing_rule: str
) -> None:
    """Without TierII's own unsubscribe URL: with MailerSend's header the one-click rule holds
    (the header is MailerSend's), and the visible link is what is still missing (CAN-SPAM)."""
    write_contacts(workdir / "contacts.csv", 3)
    with LocalMailerSend(bulk_delay=0.01) as api:
        point_at(api, monkeypatch, TIERII_MAILERSEND_UNSUBSCRIBE=mode)
        monkeypatch.delenv("TIERII_UNSUBSCRIBE_URL")
        (workdir / "plain.mustache").write_text(TEMPLATE.replace("Unsubscribe: {{unsubscribe_url}}\n", ""))
        result = CliRunner().invoke(cli, ["send", "contacts.csv", "-t", "plain.mustache"])
        assert result.exit_code == 2, result.output
        assert f"rule {refusing_rule} refuses" in result.stderr
        assert api.messages == []
