"""``send --at`` with workers: prepared and checked now, queued at the moment (the core's wait,
on the run's clock). The coordinator's clock here is one the test moves: it says when the
coordinator is waiting (a FIFO) and jumps to the moment when the test lets it (another)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from celery_cluster import Cluster, status, write_contacts

from tierii_celery.settings import CelerySettings

CLOCKED_COORDINATOR = """
import os, sys
from datetime import datetime, timedelta, timezone
import tierii_core.clock as clock

class TestClock:
    now_ = datetime.now(timezone.utc)
    def now(self):
        return TestClock.now_
    def sleep(self, seconds, stop):
        with open(os.environ["CLOCK_ASLEEP"], "w") as asleep:  # the test now knows we wait
            asleep.write(f"{seconds}\\n")
        with open(os.environ["CLOCK_WAKE"]) as wake:  # until the test says the time has come
            TestClock.now_ += timedelta(seconds=float(wake.read()))
        return False

clock.SystemClock = TestClock
from tierii_core.cli import main
sys.argv = ["tierii", *sys.argv[1:]]
main()
"""


def first_line(fifo: Path, writer: subprocess.Popen, timeout: float = 120) -> str:
    """The first line written to ``fifo``; a clear failure, not a hang, if ``writer`` exits or
    never writes (e.g. it is not on the test's clock and waits a real day)."""
    descriptor = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while not data.endswith(b"\n"):
            if writer.poll() is not None:
                pytest.fail(f"the coordinator exited ({writer.returncode}) before waiting for its --at")
            if time.monotonic() > deadline:
                writer.kill()
                pytest.fail(f"the coordinator did not wait on the test's clock within {timeout} s")
            readable, _, _ = select.select([descriptor], [], [], 0.5)
            if readable:
                data += os.read(descriptor, 4096)
    finally:
        os.close(descriptor)
    return data.decode()


def test_at_prepares_now_and_queues_only_at_the_moment(
    cluster: Cluster, tmp_path: Path, redis_client
) -> None:  # type: ignore[no-untyped-def]
    emails = write_contacts(cluster.work / "contacts.csv", 100)
    asleep, wake = tmp_path / "asleep", tmp_path / "wake"
    os.mkfifo(asleep)
    os.mkfifo(wake)
    env = {**cluster.env, "CLOCK_ASLEEP": str(asleep), "CLOCK_WAKE": str(wake)}
    at = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    more = ["--executor", "celery", "--at", at]
    coordinator = subprocess.Popen(
        [sys.executable, "-c", CLOCKED_COORDINATOR, "send", "contacts.csv", "-t", "welcome.mustache", *more],
        cwd=cluster.work,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    waited = float(first_line(asleep, coordinator))  # once the coordinator waits
    assert waited > 0
    # prepared (the campaign is in the store), nothing queued yet: no worker runs, the queue is empty
    assert redis_client.llen(CelerySettings().queue) == 0 and not redis_client.keys("*tierii*batch*")
    cluster.start_worker(concurrency=2)
    wake.write_text(str(timedelta(days=2).total_seconds()))  # the moment has come
    _, stderr = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 0, stderr + cluster.log_tail()
    assert "schedule: starts at" in stderr
    received = cluster.smtp.handler.received
    assert sorted(received) == sorted(emails) and set(received.values()) == {1}
    assert len(status(cluster)["recipients"]["sent"]) == len(emails)


def test_a_past_at_is_refused_before_anything_is_queued(cluster: Cluster) -> None:
    write_contacts(cluster.work / "contacts.csv", 5)
    result = cluster.run(
        "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", "--at", "2001-01-01 09:00"
    )
    assert result.returncode == 2 and "in the past" in result.stderr and "Traceback" not in result.stderr
