"""tierii send --executor celery with real workers as separate processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from celery_cluster import TEMPLATE, Cluster, SmtpCounter, write_contacts


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    url = os.environ.get("TIERII_TEST_POSTGRES_URL")
    if url:
        from tierii_core.testing.postgres import fresh_schema

        with fresh_schema(url) as where:
            yield {"TIERII_STATE_URL": where.reveal() if hasattr(where, "reveal") else str(where)}
        return
    yield {"TIERII_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def cluster(tmp_path: Path, redis_server, state):  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir()
    (work / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    with SmtpCounter() as smtp:
        cluster = Cluster(work, redis_server.url, smtp.port, state)
        cluster.smtp = smtp
        try:
            yield cluster
        finally:
            cluster.stop()


def status(cluster: Cluster) -> dict:
    result = cluster.run("status", "--json", "--list", "all")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_workers_send_every_recipient_once(cluster: Cluster) -> None:
    emails = write_contacts(cluster.work / "contacts.csv", 300)
    for _ in range(2):
        cluster.start_worker()
    coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
    assert coordinator.wait(timeout=120) == 0, cluster.log_tail()
    received = cluster.smtp.handler.received
    assert sorted(received) == sorted(emails)
    assert set(received.values()) == {1}
