"""End to end: ``tierii send`` and ``tierii check`` with the azure provider, the official SDK
over real HTTP(S) to the local ACS (CSV -> strict templates -> one operation per recipient)."""

from __future__ import annotations

import collections
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tierii_azure.testing import LocalAcs, RateLimit
from tierii_azure.testing.fixtures import FAST_SETTINGS
from tierii_core.cli import cli

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
}


SEND_ARGS = ("send", "contacts.csv", "-t", "welcome.mustache", "--report", "report.json")


def write_contacts(path: Path, count: int) -> list[dict[str, str]]:
    rows = [
        {"email": f"person{i}@example.com", "first_name": f"Name{i}", "code": f"C{i:05d}"}
        for i in range(count)
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("TIERII_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path


def point_at(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    for name, value in {**env, **FAST_SETTINGS, **MARKETING, **extra}.items():
        monkeypatch.setenv(name, value)


def send(*args: str) -> Result:
    return CliRunner().invoke(cli, ["send", "contacts.csv", "-t", "welcome.mustache", *args])


def assert_each_got_exactly_their_own(acs: LocalAcs, rows: list[dict[str, str]]) -> None:
    accepted = collections.Counter(m.recipient for m in acs.accepted)
    assert set(accepted) == {r["email"] for r in rows}
    assert set(accepted.values()) == {1}, "somebody was sent the campaign twice"
    delivered = {m.recipient: m for m in acs.delivered}
    assert len(delivered) == len(rows)
    for row in rows:
        message = delivered[row["email"]]
        assert message.subject == f"Hello {row['first_name']}, your code {row['code']}"
        assert message.text is not None
        assert f"Dear {row['first_name']},\n\nyour personal code is {row['code']}." in message.text
        assert message.sender == "shop@example.com"
        unsubscribe = message.headers["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://shop.example/unsubscribe")
        assert unsubscribe.split(",")[0].strip("<>") in message.text  # the recipient's own link
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len({m.headers["List-Unsubscribe"] for m in acs.delivered}) == len(rows)


def test_1000_contacts_each_get_their_own_message_once(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 1000)
    with LocalAcs() as acs:
        point_at(acs.environment(), monkeypatch, TIERII_AZURE_CONCURRENCY="8")
        result = send("--report", "report.json", "--concurrency", "2")
        assert result.exit_code == 0, result.output
        assert "provider azure" in result.stderr
        assert acs.count("send") == 1000
        assert_each_got_exactly_their_own(acs, rows)
        assert acs.key not in result.output + result.stderr
    # the access key reaches the SDK and nothing else: not the journal, not the report
    for path in (workdir / "state").rglob("*"):
        if path.is_file():
            assert acs.key.encode() not in path.read_bytes(), path
    assert acs.key not in (workdir / "report.json").read_text()
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"], report["unknown"]) == (1000, 0, 0)


def test_429_bursts_are_absorbed_and_nothing_is_lost_or_doubled(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = write_contacts(workdir / "contacts.csv", 120)
    # ACS allows 40 sends a second; TierII is told nothing about it, and must follow the 429s
    with LocalAcs(limits={"send": RateLimit(40, window=1.0)}) as acs:
        acs.faults.throttle(10, retry_after=1)  # and a burst of 429s right at the start
        point_at(acs.environment(), monkeypatch, TIERII_AZURE_CONCURRENCY="8")
        result = send("--report", "report.json")
        assert result.exit_code == 0, result.output
        assert acs.throttled["send"] >= 10
        assert acs.count("send", 429) == acs.throttled["send"]
        assert_each_got_exactly_their_own(acs, rows)
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"], report["unknown"]) == (120, 0, 0)


def test_a_failed_operation_fails_only_its_recipient(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_contacts(workdir / "contacts.csv", 30)
    with LocalAcs() as acs:
        acs.faults.fail("person7@example.com", "EmailDropped", "Recipient mailbox is full.")
        point_at(acs.environment(), monkeypatch)
        result = send("--report", "report.json")
        assert result.exit_code == 1, result.output
        assert len(acs.delivered) == 29
        assert not acs.delivered_to("person7@example.com")
    report = json.loads((workdir / "report.json").read_text())
    assert (report["sent"], report["failed"]) == (29, 1)
    [failure] = report["failures"]
    assert failure["email"] == "person7@example.com"
    assert "EmailDropped: Recipient mailbox is full." in failure["reason"]


def test_a_wrong_key_exits_3_and_nothing_is_recorded_as_sent(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 50)
    wrong = "d3Jvbmcta2V5LW5vdC10aGlzLXJlc291cmNlcw=="
    with LocalAcs() as acs:
        point_at(acs.environment(key=wrong), monkeypatch)
        # a real process: the exit code and the message as a user sees them
        process = subprocess.run(
            [sys.executable, "-c", "from tierii_core.cli import main; main()", *SEND_ARGS],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert process.returncode == 3, process.stderr
        assert "ACS refused the credentials" in process.stderr
        assert "TIERII_AZURE_CONNECTION_STRING" in process.stderr
        assert wrong not in process.stdout + process.stderr
        assert "Traceback" not in process.stderr
        assert acs.count("send") == 0 and acs.accepted == []
        report = json.loads((workdir / "report.json").read_text())
        assert (report["sent"], report["exit_code"]) == (0, 3)
        status = CliRunner().invoke(cli, ["status", "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["counts"].get("sent", 0) == 0  # the journal agrees
        # the key is fixed: the same command sends everyone, once
        point_at(acs.environment(), monkeypatch)
        assert send().exit_code == 0
        assert len(acs.delivered) == 50


def test_entra_id_over_https_with_a_managed_identity(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = write_contacts(workdir / "contacts.csv", 20)
    with LocalAcs(tls=True) as acs:
        point_at(acs.entra_environment(), monkeypatch)
        result = send()
        assert result.exit_code == 0, result.output
        assert acs.count("token", 200) >= 1  # DefaultAzureCredential asked the managed identity
        assert_each_got_exactly_their_own(acs, rows)


def test_entra_id_without_a_role_exits_3(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_contacts(workdir / "contacts.csv", 5)
    with LocalAcs(tls=True) as acs:
        point_at(acs.entra_environment(), monkeypatch)
        acs.resource.issue_token = lambda lifetime=3600.0: ("not-known-to-the-resource", 4102444800.0)
        result = send()
        assert result.exit_code == 3, result.output
        assert "ACS refused the credentials" in result.stderr
        assert "TIERII_AZURE_ENDPOINT" in result.stderr
        assert acs.accepted == []


def test_check_tries_the_credentials(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalAcs() as acs:
        point_at(acs.environment(), monkeypatch)
        result = CliRunner().invoke(cli, ["check", "--provider", "azure"])
        assert result.exit_code == 0, result.output
        assert "accepted the credentials" in result.output
        assert "sends 1000000/min" in result.output
        assert acs.key not in result.output
        point_at(acs.environment(key="d3Jvbmc="), monkeypatch)
        result = CliRunner().invoke(cli, ["check", "--provider", "azure"])
        assert result.exit_code != 0
        assert "HTTP 401: Denied" in result.output
        assert acs.accepted == []


def test_a_bad_connection_string_is_exit_2_naming_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_contacts(workdir / "contacts.csv", 3)
    point_at(
        {"TIERII_AZURE_CONNECTION_STRING": "endpoint=https://x.example;accesskey=not base64!"}, monkeypatch
    )
    result = send()
    assert result.exit_code == 2, result.output
    assert "TIERII_AZURE_CONNECTION_STRING=********" in result.stderr
    assert "accesskey is not base64" in result.stderr
    assert "not base64!" not in result.stderr.replace("is not base64 (", "")
