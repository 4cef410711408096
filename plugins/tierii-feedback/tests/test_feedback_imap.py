"""The same mailbox on a real Dovecot (127.0.0.1, TLS with a test CA): `process --imap` and
`watch` (IMAP IDLE), certificate verification, and the errors a user sees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from feedback_helpers import ADDRESSES, LINKS, suppressions, tierii
from feedback_mailset import render, scenario

pytestmark = pytest.mark.network

DEADLINE = 60.0  # a bound on a hang, never a pause


def append_all(dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    client = dovecot.client()
    try:
        for _, raw in messages:
            client.append("INBOX", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    finally:
        client.logout()


def folder_counts(dovecot) -> dict[str, int]:  # type: ignore[no-untyped-def]
    client = dovecot.client()
    try:
        counts = {}
        for folder in ("INBOX", "TierII-Processed"):
            if client.folder_exists(folder):
                counts[folder] = client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"]
        return counts
    finally:
        client.logout()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_processing_suppresses_the_same_as_the_maildir(
    campaign: Path, tmp_path: Path, dovecot, tierii_environment: pytest.MonkeyPatch, security: str
) -> None:
    plan = scenario(ADDRESSES, LINKS)
    append_all(dovecot, plan.messages)
    for name, value in dovecot.environment(security).items():
        tierii_environment.setenv(name, value)

    result = tierii("feedback", "process", "--imap")

    assert result.exit_code == 0, result.output
    found = suppressions(tmp_path / "state")
    assert set(found) == set(plan.suppressed)
    for address, reason in plan.suppressed.items():
        assert found[address].startswith(reason)
    assert "INBOX UID " in result.output and "cannot read this report" in result.output
    kept = plan.noise + plan.unreadable
    assert folder_counts(dovecot) == {"INBOX": kept, "TierII-Processed": len(plan.messages) - kept}

    again = tierii("feedback", "process", "--imap")
    assert again.exit_code == 0 and "0 newly suppressed" in again.output
    assert suppressions(tmp_path / "state") == found
    assert folder_counts(dovecot) == {"INBOX": kept, "TierII-Processed": len(plan.messages) - kept}


def test_without_a_folder_reports_are_flagged_in_place(
    campaign: Path, tmp_path: Path, dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    plan = scenario(ADDRESSES, LINKS)
    append_all(dovecot, plan.messages)
    for name, value in {**dovecot.environment(), "TIERII_FEEDBACK_PROCESSED_FOLDER": ""}.items():
        tierii_environment.setenv(name, value)

    assert tierii("feedback", "process", "--imap").exit_code == 0

    client = dovecot.client()
    try:
        client.select_folder("INBOX", readonly=True)
        flagged = client.search(["KEYWORD", "$TierIIProcessed"])
        assert len(flagged) == len(plan.messages) - plan.noise - plan.unreadable
        assert not client.folder_exists("TierII-Processed")
    finally:
        client.logout()
    assert set(suppressions(tmp_path / "state")) == set(plan.suppressed)


def test_an_unknown_certificate_is_refused_with_the_way_out(
    campaign: Path, dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    for name, value in dovecot.environment().items():
        tierii_environment.setenv(name, value)
    tierii_environment.delenv("TIERII_IMAP_CA_FILE")

    result = tierii("feedback", "process", "--imap")

    assert result.exit_code == 2
    assert f"the TLS certificate of 127.0.0.1:{dovecot.imaps_port} was refused" in result.output
    assert "TIERII_IMAP_CA_FILE" in result.output


def test_a_wrong_password_is_named_and_never_shown(
    campaign: Path, dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    for name, value in {**dovecot.environment(), "TIERII_IMAP_PASSWORD": "not-the-password-xyz"}.items():
        tierii_environment.setenv(name, value)

    result = tierii("feedback", "process", "--imap")

    assert result.exit_code == 2
    assert "refused TIERII_IMAP_USERNAME='feedback' with that password" in result.output
    assert "not-the-password-xyz" not in result.output


def test_a_server_that_is_away_stops_with_exit_3(
    campaign: Path, tierii_environment: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    for name, value in {
        "TIERII_IMAP_HOST": "127.0.0.1",
        "TIERII_IMAP_PORT": str(port),
        "TIERII_IMAP_USERNAME": "feedback",
        "TIERII_IMAP_PASSWORD": "x-password",
    }.items():
        tierii_environment.setenv(name, value)

    result = tierii("feedback", "process", "--imap")

    assert result.exit_code == 3
    assert f"IMAP server 127.0.0.1:{port}: cannot connect" in result.output


def test_watch_processes_new_mail_as_it_arrives_and_stops_on_ctrl_c(
    campaign: Path, tmp_path: Path, dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    for name, value in dovecot.environment().items():
        tierii_environment.setenv(name, value)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", "feedback", "watch", "--verbose"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "watching: IMAP IDLE" in watcher.stderr.readline()
        assert "waiting for new mail" in watcher.stderr.readline()  # the server confirmed IDLE
        append_all(dovecot, [("bounce", render("gmail-5.1.1.eml", ADDRESSES[0], 1, links=LINKS))])
        line = watcher.stdout.readline()  # printed once the bounce arrived through IDLE
        assert f"hard {ADDRESSES[0]} [campaign restock]: suppressed: hard bounce" in line
        assert ADDRESSES[0] in suppressions(tmp_path / "state")

        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=DEADLINE)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert "1 messages (bounce: 1); 1 newly suppressed" in out


def test_an_idle_interval_past_29_minutes_is_refused(
    campaign: Path, tierii_environment: pytest.MonkeyPatch, dovecot
) -> None:
    """RFC 2177: servers may drop a client idle for 30 minutes; the setting is named."""
    for name, value in {**dovecot.environment(), "TIERII_IMAP_IDLE_SECONDS": "3600"}.items():
        tierii_environment.setenv(name, value)
    result = tierii("feedback", "watch")
    assert result.exit_code == 2 and "TIERII_IMAP_IDLE_SECONDS" in result.output


def test_a_server_without_move_gets_copy_and_expunge(
    campaign: Path, tmp_path: Path, plain_dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    plan = scenario(ADDRESSES, LINKS)
    append_all(plain_dovecot, plan.messages)
    for name, value in plain_dovecot.environment().items():
        tierii_environment.setenv(name, value)

    result = tierii("feedback", "process", "--imap")

    assert result.exit_code == 0, result.output
    assert set(suppressions(tmp_path / "state")) == set(plan.suppressed)
    kept = plan.noise + plan.unreadable
    assert folder_counts(plain_dovecot) == {"INBOX": kept, "TierII-Processed": len(plan.messages) - kept}


def test_watch_polls_a_server_without_idle(
    campaign: Path, tmp_path: Path, plain_dovecot, tierii_environment: pytest.MonkeyPatch
) -> None:
    for name, value in {**plain_dovecot.environment(), "TIERII_IMAP_IDLE_SECONDS": "0.2"}.items():
        tierii_environment.setenv(name, value)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", "feedback", "watch"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "watching: polling (the server has no IDLE)" in watcher.stderr.readline()
        append_all(plain_dovecot, [("bounce", render("office365-5.1.10.eml", ADDRESSES[1], 2, links=LINKS))])
        assert f"hard {ADDRESSES[1]} [campaign restock]" in watcher.stdout.readline()  # found by a poll
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=DEADLINE)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert "1 newly suppressed" in out
