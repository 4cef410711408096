"""The PostgreSQL state store's server restarts in the middle of a campaign.

A short outage: the run stalls, reconnects and goes on, and every recipient gets the message
once. An outage longer than TIERII_STATE_RECONNECT: the run stops with exit 3, and once the
server is back the same command finishes the campaign; nobody is lost, nobody gets it twice
unless the journal reports them unknown.

Each test runs a PostgreSQL server of its own (initdb/pg_ctl, 127.0.0.1, a free port), so it
can stop and start it.
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import mailbox
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierii_core.testing.postgres import PrivateServer, private_server_for_test

CONTACTS = 1500


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    with private_server_for_test() as running:
        yield running


def tierii(*args: str, cwd: Path, store: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(store, TIERII_LOAD_PLUGINS="tierii-csv")
    return subprocess.Popen(
        [sys.executable, "-m", "tierii_core.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def campaign(tmp_path: Path, rate: str) -> tuple[str, ...]:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(CONTACTS)))
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hello\nFrom: shop@example.com\n\nHi\n")
    return (
        "send",
        str(contacts),
        "-t",
        str(template),
        "--batch-size",
        "20",
        "--rate",
        rate,
        "--transactional",
    )


def until_sending(process: subprocess.Popen) -> list[str]:
    """The log up to the start of sending."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if '"event": "run.started"' in line:
            return seen
    pytest.fail("the run ended before it started:\n" + "".join(seen))


def delivered(outbox: Path) -> collections.Counter:
    box = mailbox.Maildir(str(outbox), factory=None, create=False)
    counts: collections.Counter = collections.Counter()
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        counts[message["To"].addresses[0].addr_spec.lower()] += 1
    return counts


def states(tmp_path: Path, store: dict[str, str]) -> dict[str, str]:
    status = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "status", "--json", "--list", "all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}, **store},
    )
    report = json.loads(status.stdout)
    return {row["email"]: state for state, rows in report["recipients"].items() for row in rows}


@pytest.mark.slow
def test_a_short_restart_stalls_the_run_which_reconnects_and_finishes(
    tmp_path: Path, server: PrivateServer
) -> None:
    store = {"TIERII_STATE_URL": server.url, "TIERII_STATE_RECONNECT": "120"}
    # 1,500 at 250/s: six seconds of sending, time enough to restart the server mid-way even
    # on a loaded machine
    process = tierii(*campaign(tmp_path, "250/s"), cwd=tmp_path, store=store)
    log = until_sending(process)
    server.stop("fast")  # every connection is closed; the run's next statement fails
    server.start()
    assert process.stderr is not None
    log += process.stderr.readlines()
    assert process.wait(timeout=600) == 0, "".join(log[-20:])
    assert any('"event": "state.reconnected"' in line for line in log), "the restart never hit the run"
    assert delivered(tmp_path / "outbox") == {f"u{i}@example.com": 1 for i in range(CONTACTS)}
    assert set(states(tmp_path, store).values()) == {"sent"}


@pytest.mark.slow
def test_a_long_outage_stops_the_run_with_exit_3_and_the_rerun_finishes(
    tmp_path: Path, server: PrivateServer
) -> None:
    store = {"TIERII_STATE_URL": server.url, "TIERII_STATE_RECONNECT": "1"}
    # 1,500 at 50/s would take thirty seconds: still sending when the server goes, however slowly
    # the machine runs; it stops then, and the re-run goes fast
    process = tierii(*campaign(tmp_path, "50/s"), cwd=tmp_path, store=store)
    log = until_sending(process)
    server.stop("fast")
    assert process.stderr is not None
    log += process.stderr.readlines()  # until it exits: it gives up after a second of retrying
    assert process.wait(timeout=600) == 3, "".join(log[-20:])
    assert not any("Traceback" in line for line in log), "".join(log)
    server.start()
    rerun = tierii(*campaign(tmp_path, "5000/s"), cwd=tmp_path, store=store)
    rerun.communicate(timeout=600)
    assert rerun.returncode in (0, 1)
    found = states(tmp_path, store)
    counts = delivered(tmp_path / "outbox")
    unknown = {e for e, s in found.items() if s == "unknown"}
    assert {e for e, n in counts.items() if n > 1} - unknown == set()  # nothing twice, unless unknown
    expected = {f"u{i}@example.com" for i in range(CONTACTS)}
    assert {e for e in expected if found.get(e) not in ("sent", "unknown")} == set()  # nothing lost
    assert {e for e, s in found.items() if s == "sent"} <= set(counts)
