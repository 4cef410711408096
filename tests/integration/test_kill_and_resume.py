"""Fault injection: `tierii send` killed with SIGKILL at random moments, then re-run to the end.

No recipient may get two messages unless the journal reports them unknown, and no recipient
may be lost: each is sent, failed with a reason, excluded, or reported unknown.
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import mailbox
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

CONTACTS = 1500


def tierii(
    *args: str, cwd: Path, stderr: int = subprocess.DEVNULL, store: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env["TIERII_LOAD_PLUGINS"] = "tierii-csv"  # the journal is under test: load only the source it needs
    env.update(store or {})
    return subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def wait_until_sending(process: subprocess.Popen) -> list[str]:
    """Read the log until the run has started (its signal handlers are in place), then keep
    draining it in the background so that the process never blocks on a full pipe. The log so
    far, to which the rest is added (for the failure message)."""
    log = []
    for line in process.stderr:
        log.append(line)
        if '"event": "run.started"' in line:
            break
    else:
        pytest.fail("the run ended before it started:\n" + "".join(log))
    threading.Thread(target=lambda: log.extend(process.stderr), daemon=True).start()
    return log


def delivered(outbox: Path) -> collections.Counter:
    box = mailbox.Maildir(str(outbox), factory=None, create=False)
    counts: collections.Counter = collections.Counter()
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        counts[message["To"].addresses[0].addr_spec.lower()] += 1
    return counts


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings that pick the state store: the default directory, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return {}
    return {"TIERII_STATE_URL": request.getfixturevalue("postgres_state").url}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_killed_runs_resume_without_duplicates_or_losses(
    tmp_path: Path, seed: int, store: dict[str, str]
) -> None:
    rng = random.Random(seed)
    contacts = tmp_path / "contacts.csv"
    rows = [f"u{i}@example.com,U{i}" for i in range(CONTACTS)]
    rows[7] = "not-an-address,Broken"  # failed (no valid address), with a reason
    contacts.write_text("email,name\n" + "\n".join(rows) + "\n")
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hello {{name}}\nFrom: shop@example.com\n\nHi {{name}}\n")
    # at 1,000/s the whole campaign takes at least 1.5 s: the first run is always killed
    args = (
        "send",
        str(contacts),
        "-t",
        str(template),
        "--batch-size",
        "10",
        "--rate",
        "1000/s",
        "--transactional",
    )

    kills = 0
    for attempt in range(12):
        process = tierii(*args, cwd=tmp_path, store=store)
        try:
            # killed at random moments, then (on a slow or busy machine) left to finish
            code = process.wait(timeout=rng.uniform(0.2, 0.9) if attempt < 10 else 600)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        assert code in (0, 1), code
        break
    else:
        pytest.fail("the campaign never finished")
    assert kills >= 1, "the test never managed to kill a run: make the campaign longer"

    status = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "status", "--json", "--list", "all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **store},
    )
    report = json.loads(status.stdout)
    states = {row["email"]: state for state, rows in report["recipients"].items() for row in rows}
    counts = delivered(tmp_path / "outbox")
    unknown = {e for e, s in states.items() if s == "unknown"}
    duplicates = {e for e, n in counts.items() if n > 1} - unknown
    assert duplicates == set()
    expected = {f"u{i}@example.com" for i in range(CONTACTS) if i != 7}
    lost = {e for e in expected if states.get(e) not in ("sent", "unknown")}
    assert lost == set()
    assert {e for e, s in states.items() if s == "sent"} <= set(counts)
    assert report["counts"]["failed"] == 1 and report["counts"]["pending"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_batch_in_flight_records_it_and_exits_3(tmp_path: Path, sig: int) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(CONTACTS)))
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hello\nFrom: shop@example.com\n\nHi\n")
    args = (
        "send",
        str(contacts),
        "-t",
        str(template),
        "--batch-size",
        "20",
        "--transactional",
    )
    # 1,500 at 50/s would take thirty seconds: still sending when the signal comes, however
    # slowly a loaded machine runs this test; the re-run goes fast
    process = tierii(*args, "--rate", "50/s", cwd=tmp_path, stderr=subprocess.PIPE)
    log = wait_until_sending(process)
    process.send_signal(sig)
    assert process.wait(timeout=30) == 3, "".join(log[-40:])
    status = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "status", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(status.stdout)["counts"]
    assert counts["unknown"] == 0  # nothing left in flight: the batch in flight was finished
    assert counts["sent"] < CONTACTS  # pending ones (waiting for the rate limit) are sent by a re-run
    assert sum(delivered(tmp_path / "outbox").values()) == counts["sent"]
    assert tierii(*args, "--rate", "5000/s", cwd=tmp_path).wait(timeout=600) == 0
    assert delivered(tmp_path / "outbox") == {f"u{i}@example.com": 1 for i in range(CONTACTS)}


@pytest.mark.slow
def test_two_processes_on_one_campaign_send_each_recipient_once(
    tmp_path: Path, store: dict[str, str]
) -> None:
    """Two `tierii send` processes on one campaign at the same time share it: each sends only
    what its claims took, together they send every recipient once."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(CONTACTS)))
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hello\nFrom: shop@example.com\n\nHi\n")
    args = ("send", str(contacts), "-t", str(template), "--batch-size", "10", "--rate", "1000/s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(store, TIERII_LOAD_PLUGINS="tierii-csv", TIERII_TRANSACTIONAL="true")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tierii_core.cli", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert delivered(tmp_path / "outbox") == {f"u{i}@example.com": 1 for i in range(CONTACTS)}
    sent = [
        int(next(line for line in out.splitlines() if line.startswith("sent: ")).split()[1])
        for out in outputs
    ]
    assert sum(sent) == CONTACTS  # each counts only what it sent
    status = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "status", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert json.loads(status.stdout)["counts"]["sent"] == CONTACTS
