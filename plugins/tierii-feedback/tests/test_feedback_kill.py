"""Fault injection: `tierii feedback process` killed with SIGKILL half-way, then run again,
ends exactly where one uninterrupted run ends: the same suppressions with the same reasons,
the same events, every report counted once (soft bounces included)."""

from __future__ import annotations

import mailbox
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from feedback_helpers import LINKS
from feedback_mailset import render

from tierii_core.feedback_store import FeedbackStore
from tierii_core.suppression import SuppressionList

REPORTS = 240


def mailset() -> list[bytes]:
    """Hard bounces, complaints, and soft bounces that reach the limit part-way through."""
    messages = []
    for i in range(REPORTS):
        kind = i % 4
        if kind == 0:
            messages.append(render("gmail-5.1.1.eml", f"hard{i}@example.com", i, links=LINKS))
        elif kind == 1:
            messages.append(render("arf-rfc5965.eml", f"complainer{i}@example.net", i, links=LINKS))
        else:  # 6 soft bounces for each of 20 addresses, spread over the run
            messages.append(render("postfix-delayed-4.4.1.eml", f"soft{i % 40}@example.org", i, links=LINKS))
    return messages


def fill(path: Path, messages: list[bytes]) -> None:
    path.parent.mkdir(parents=True)
    box = mailbox.Maildir(str(path), create=True)
    for raw in messages:
        box.add(raw)


def run(
    maildir: Path | None, state: Path, *, kill_after: int | None = None, imap: dict[str, str] | None = None
) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(TIERII_STATE_DIR=str(state), PYTHONUNBUFFERED="1", **(imap or {}))
    source = ["--maildir", str(maildir)] if maildir is not None else ["--imap"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", "feedback", "process", *source],
        env=env,
        cwd=state.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    if kill_after is not None:
        for _ in range(kill_after):  # one line per processed address: the run's own progress
            process.stdout.readline()
        process.send_signal(signal.SIGKILL)
    process.stdout.read()
    return process.wait()


def final_state(state: Path) -> tuple[list, list, int]:
    listing = SuppressionList(state, read_only=True)
    store = FeedbackStore(state, read_only=True)
    try:
        return [(s.entry, s.reason, s.source) for s in listing], store.events(), store.reports()
    finally:
        listing.close()
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_killed_run_then_a_rerun_ends_like_one_run(tmp_path: Path, seed: int) -> None:
    messages = mailset()
    fill(tmp_path / "reference" / "Maildir", messages)
    assert run(tmp_path / "reference" / "Maildir", tmp_path / "reference" / "state") == 0
    expected = final_state(tmp_path / "reference" / "state")
    assert expected[2] == REPORTS and len(expected[0]) == 60 + 60 + 20  # hard, complaints, soft

    fill(tmp_path / "killed" / "Maildir", messages)
    kill_after = random.Random(seed).randrange(1, REPORTS - 1)
    assert run(tmp_path / "killed" / "Maildir", tmp_path / "killed" / "state", kill_after=kill_after) == -9
    assert run(tmp_path / "killed" / "Maildir", tmp_path / "killed" / "state") == 0

    assert final_state(tmp_path / "killed" / "state") == expected
    left = list((tmp_path / "killed" / "Maildir" / "new").iterdir())
    assert left == []  # every report set aside, none lost


@pytest.mark.slow
@pytest.mark.network
def test_a_killed_imap_run_then_a_rerun_ends_like_one_run(tmp_path: Path, dovecot) -> None:  # type: ignore[no-untyped-def]
    messages = mailset()
    fill(tmp_path / "reference" / "Maildir", messages)
    assert run(tmp_path / "reference" / "Maildir", tmp_path / "reference" / "state") == 0
    expected_suppressions, expected_events, _ = final_state(tmp_path / "reference" / "state")
    client = dovecot.client()
    for raw in messages:
        client.append("INBOX", raw.replace(b"\n", b"\r\n"))
    client.logout()

    imap = dovecot.environment()
    assert run(None, tmp_path / "state", kill_after=REPORTS // 3, imap=imap) == -9
    assert run(None, tmp_path / "state", imap=imap) == 0

    suppressed, events, reports = final_state(tmp_path / "state")
    assert (suppressed, events, reports) == (expected_suppressions, expected_events, REPORTS)
    client = dovecot.client()
    try:
        assert client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] == 0
        assert client.folder_status("TierII-Processed", [b"MESSAGES"])[b"MESSAGES"] == REPORTS
    finally:
        client.logout()
