"""PostgreSQL dropping every state-store connection mid-campaign, with workers: the campaign
stalls and goes on; nobody is lost, nobody gets two messages outside ``unknown``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_cluster import TEMPLATE, Cluster, SmtpCounter, status, write_contacts

from tierii_core.testing.postgres import PrivateServer, private_server_for_test


@pytest.fixture
def private_postgres() -> Iterator[PrivateServer]:
    """A server of the test's own: terminating its backends disturbs nobody else's tests."""
    with private_server_for_test() as server:
        yield server


def terminate_state_connections(server: PrivateServer) -> int:
    """pg_terminate_backend on every connection the state store opened (application_name
    'tierii'), from coordinator and workers alike; how many were cut."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True, application_name="test-terminator") as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'tierii' AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def test_connections_dropped_mid_campaign_stall_then_it_goes_on(
    tmp_path: Path, redis_server, private_postgres: PrivateServer
) -> None:  # type: ignore[no-untyped-def]
    total = 1500
    work = tmp_path / "work"
    work.mkdir()
    (work / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    emails = write_contacts(work / "contacts.csv", total)
    with SmtpCounter() as smtp:
        cluster = Cluster(work, redis_server.url, smtp.port, {"TIERII_STATE_URL": private_postgres.url})
        try:
            for _ in range(2):
                cluster.start_worker(concurrency=2)
            coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
            cut = []
            for moment in (total // 5, total // 2, total * 4 // 5):
                assert smtp.handler.wait_for(moment, timeout=180), cluster.log_tail()
                cut.append(terminate_state_connections(private_postgres))
            code = coordinator.wait(timeout=300)
            assert code in (0, 1), cluster.log_tail()  # 1: some recipients are unknown
            assert all(cut), f"connections terminated each time: {cut}"
            report = status(cluster)
        finally:
            cluster.stop()
        received = smtp.handler.received
    recipients = report["recipients"]
    unknown = {r["email"] for r in recipients["unknown"]}
    sent = {r["email"] for r in recipients["sent"]}
    assert not recipients["pending"] and not recipients["failed"], report["counts"]
    assert len(sent) + len(unknown) == total
    duplicates = {email for email, count in received.items() if count > 1}
    assert duplicates <= unknown, f"sent twice outside unknown: {sorted(duplicates - unknown)[:5]}"
    lost = [e for e in emails if received[e] == 0 and e not in unknown]
    assert lost == [], f"lost: {lost[:5]}"
    assert sent <= set(received)
    print(f"connections cut: {cut}; unknown: {len(unknown)}, received twice: {len(duplicates)}, exit {code}")
