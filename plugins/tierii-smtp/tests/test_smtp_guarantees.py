"""Delivery guarantees end to end over SMTP: SIGKILL at random moments, and the rate limit."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from collections import Counter

import pytest

KILL_CONTACTS = 1200


def start(campaign, *options: str) -> subprocess.Popen:
    if not (campaign.root / "offer.mustache").exists():
        campaign.templates()
    command = [sys.executable, "-c", "from tierii_core.cli import main; main()", "send", "contacts.csv"]
    command += ["-t", "offer.mustache", "--html", "offer.html.mustache", "--provider", "smtp", *options]
    return subprocess.Popen(
        command, cwd=campaign.root, env=campaign.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 8, 9])
def test_killed_runs_resume_with_no_duplicate_and_no_loss(server, campaign, seed: int) -> None:
    """A real `tierii send` to an SMTP server that counts deliveries per recipient, killed with
    SIGKILL at random moments, then re-run until done."""
    rng = random.Random(seed)
    campaign.point_at(server.port)
    campaign.contacts(KILL_CONTACTS)
    kills = 0
    for _ in range(40):
        # at 600/s the campaign takes at least 2 s: the first run is always killed
        process = start(campaign, "--batch-size", "20", "--rate", "600/s")
        try:
            code = process.wait(timeout=rng.uniform(0.4, 1.2))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        assert code in (0, 1)
        break
    else:
        pytest.fail("the campaign never finished")
    assert kills >= 1, "no run was killed: make the campaign longer"

    status = json.loads(campaign.tierii("status", "--json", "--list", "all").stdout)
    states = {row["email"]: state for state, rows in status["recipients"].items() for row in rows}
    received = Counter(address.lower() for address in server.recipients)
    unknown = {email for email, state in states.items() if state == "unknown"}
    assert {email for email, n in received.items() if n > 1} <= unknown, (
        "a duplicate the journal did not report"
    )
    expected = {f"person{i}@example.com" for i in range(KILL_CONTACTS)}
    assert {email for email in expected if states.get(email) not in ("sent", "unknown")} == set()
    assert {email for email, state in states.items() if state == "sent"} <= set(received)
    assert status["counts"]["pending"] == 0


def test_the_rate_limit_holds_at_the_server(server, campaign) -> None:
    """`--rate 50/s`: in any second the server sees at most the bucket's burst (10) plus 50."""
    campaign.point_at(server.port)
    campaign.contacts(130)
    done = campaign.send("--rate", "50/s")
    assert done.returncode == 0, done.stderr
    times = sorted(message.at for message in server.messages)
    assert len(times) == 130
    for first in times:
        assert sum(1 for t in times if first <= t < first + 1.0) <= 10 + 50
    assert times[-1] - times[0] >= (130 - 10) / 50 * 0.95  # and it is not merely short: it is paced
