"""An outage that outlasts the retries: nothing is lost, and the next run sends the rest
without any flag (the failures were the server's, not the recipients')."""

from __future__ import annotations

import json
from collections import Counter

import pytest

pytestmark = pytest.mark.network


def test_recipients_failed_by_an_outage_are_sent_by_the_next_run(campaign, scripted_server):
    server = scripted_server()
    server.greetings = ["421 4.3.2 service not available, closing channel"] * 3  # down for 3 connections
    campaign.contacts(12)
    campaign.point_at(server.port, connections="1")
    campaign.env["TIERII_MAX_ATTEMPTS"] = "2"

    first = campaign.send()
    assert first.returncode == 1, first.stderr
    assert "failed: 12 (12 not the recipient's fault: the next run tries them again)" in first.stdout
    assert server.recipients == []

    again = campaign.send()  # the server is back; no --retry-failed
    assert again.returncode == 0, again.stderr
    assert "sent: 12" in again.stdout
    assert Counter(server.recipients) == Counter({f"person{i}@example.com": 1 for i in range(12)})

    status = json.loads(campaign.tierii("status", "--json").stdout)
    assert status["counts"]["sent"] == 12 and status["counts"]["failed"] == 0
