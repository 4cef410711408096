"""End to end: ``tierii send`` and ``tierii check`` with the ses provider against moto's SES
(CSV -> strict templates -> one SendEmail each -> moto's record), faults through the proxy."""

from __future__ import annotations

import collections
import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tierii_core.cli import cli
from tierii_ses.testing import FaultProxy, LocalSes

TEMPLATE = """\
Subject: Hello {{first_name}}, your code {{code}}
From: The Shop <shop@example.com>

Dear {{first_name}},

your personal code is {{code}}.

--
Advertisement. {{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""

MARKETING = {
    "TIERII_SENDER_ADDRESS": "The Shop, 1 Main Street, Springfield",
    "TIERII_UNSUBSCRIBE_URL": "https://shop.example/unsubscribe",
    "TIERII_UNSUBSCRIBE_SECRET": "a-long-enough-secret-for-signing-links",
    "TIERII_SES_REGION": "us-east-1",
    "TIERII_SES_MAX_SEND_RATE": "1000",  # moto says 1 a second
    "TIERII_RETRY_DELAY": "0.01",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("TIERII_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    for name, value in MARKETING.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path


def write_contacts(path: Path, count: int) -> list[dict[str, str]]:
    rows = [
        {"email": f"person{i}@example.org", "first_name": f"Name{i}", "code": f"C{i:05d}"}
        for i in range(count)
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def send(*args: str) -> Result:
    return CliRunner().invoke(cli, ["send", "contacts.csv", "-t", "welcome.mustache", *args])


def assert_each_got_exactly_their_own(local_ses: LocalSes, rows: list[dict[str, str]]) -> None:
    sent = local_ses.sent()
    counts = collections.Counter(r for m in sent for r in m.destinations)
    assert set(counts) == {r["email"] for r in rows}, "lost or unexpected recipients"
    assert set(counts.values()) == {1}, "duplicates"
    by_recipient = {m.destinations[0]: m.parsed for m in sent}
    for row in rows:
        parsed = by_recipient[row["email"]]
        assert parsed["Subject"] == f"Hello {row['first_name']}, your code {row['code']}"
        assert f"your personal code is {row['code']}." in parsed.get_body(("plain",)).get_content()
        assert parsed["List-Unsubscribe"].startswith("<https://shop.example/unsubscribe")
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_campaign_goes_out_once_each_with_its_content(workdir: Path, local_ses: LocalSes) -> None:
    rows = write_contacts(workdir / "contacts.csv", 60)
    result = send("--report", "report.json", "--concurrency", "4")  # auto: ses, its region is set
    assert result.exit_code == 0, result.output
    assert "provider ses" in result.stderr
    assert_each_got_exactly_their_own(local_ses, rows)
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"], report["unknown"]) == (60, 0, 0)


def test_throttling_slows_the_run_and_loses_nothing(
    workdir: Path, proxy: FaultProxy, local_ses: LocalSes
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 30)
    proxy.fail_next("pass", 5)
    proxy.fail_next("throttle", 3)
    proxy.fail_next("pass", 5)
    proxy.fail_next("throttling", 2)
    result = send()
    assert result.exit_code == 0, result.output
    assert_each_got_exactly_their_own(local_ses, rows)
    assert len(proxy.sends) == 30 + 5


def test_a_paused_account_stops_with_exit_3_and_a_rerun_sends_the_rest_once(
    workdir: Path, proxy: FaultProxy, local_ses: LocalSes
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 20)
    proxy.fail_next("pass", 7)
    proxy.fail_next("paused")
    first = send()
    assert first.exit_code == 3, first.output
    assert "SES has paused sending for the account" in first.output
    assert len(local_ses.sent()) == 7
    second = send()  # the account is back
    assert second.exit_code == 0, second.output
    assert_each_got_exactly_their_own(local_ses, rows)


def test_a_lost_answer_is_unknown_and_never_resent_blindly(
    workdir: Path, proxy: FaultProxy, local_ses: LocalSes
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 5)
    proxy.fail_next("pass", 2)
    proxy.fail_next("lose_answer")
    first = send()
    assert first.exit_code == 1, first.output
    assert_each_got_exactly_their_own(local_ses, rows)  # SES took it, once
    again = send()
    assert again.exit_code == 1, again.output  # reported, not resent
    assert_each_got_exactly_their_own(local_ses, rows)


def test_wrong_credentials_stop_before_anything_is_sent(
    workdir: Path, proxy: FaultProxy, local_ses: LocalSes
) -> None:
    write_contacts(workdir / "contacts.csv", 5)
    proxy.account = "bad_key"
    result = send()
    assert result.exit_code == 3, result.output
    assert "AWS does not recognise the access key" in result.output
    assert proxy.sends == [] and local_ses.sent() == []


def test_no_credentials_is_exit_2(
    workdir: Path, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 2)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = send()
    assert result.exit_code == 2, result.output
    assert "no AWS credentials" in result.output
    assert "Traceback" not in result.output


def test_a_bad_setting_names_its_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_contacts(workdir / "contacts.csv", 2)
    monkeypatch.setenv("TIERII_SES_REGION", "Mars")
    result = send()
    assert result.exit_code == 2, result.output
    assert "TIERII_SES_REGION='Mars'" in result.output and "us-east-1" in result.output


# -- tierii check ------------------------------------------------------------------------------


def test_check_shows_credentials_limits_and_identities(workdir: Path, local_ses: LocalSes) -> None:
    result = CliRunner().invoke(cli, ["check", "--provider", "ses"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "[check: provider ses]" in output
    assert "access key AKIA...Y000 (from env), region us-east-1" in output
    assert "1000 msg/s, 200 in 24 h (0 sent, 200 left) (from GetSendQuota+settings)" in output
    # moto: VerificationStatus SUCCESS, VerifiedForSendingStatus false: SUCCESS is accepted
    assert "verified: example.com" in output
    assert "tierii-test-secret-key" not in output


@pytest.mark.parametrize(
    ("sender", "ok", "detail"),
    [
        ("news@example.com", True, "news@example.com (TIERII_FROM_EMAIL): verified through example.com"),
        ("news@elsewhere.example", False, "no verified identity covers it"),
    ],
)
def test_check_says_whether_the_default_sender_may_send(
    workdir: Path, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch, sender: str, ok: bool, detail: str
) -> None:
    monkeypatch.setenv("TIERII_FROM_EMAIL", sender)
    result = CliRunner().invoke(cli, ["check", "--provider", "ses"])
    assert (result.exit_code == 0) is ok, result.output
    [line] = [text for text in result.output.splitlines() if " sender: " in text]
    assert line.split()[0] == ("ok" if ok else "FAIL") and detail in line


def test_check_fails_without_a_verified_identity(workdir: Path, local_ses: LocalSes) -> None:
    local_ses.reset()
    result = CliRunner().invoke(cli, ["check", "--provider", "ses"])
    assert result.exit_code != 0
    assert "verified: none" in result.output


def test_check_names_a_missing_configuration_set(
    workdir: Path, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_SES_CONFIGURATION_SET", "nope")
    result = CliRunner().invoke(cli, ["check", "--provider", "ses"])
    assert result.exit_code != 0
    assert "nope: NotFoundException" in result.output
