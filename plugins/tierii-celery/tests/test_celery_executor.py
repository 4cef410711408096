"""tierii send --executor celery with real workers as separate processes."""

from __future__ import annotations

import os
import random

from celery_cluster import Cluster, status, write_contacts


def test_two_workers_send_every_recipient_once(cluster: Cluster) -> None:
    emails = write_contacts(cluster.work / "contacts.csv", 300)
    for _ in range(2):
        cluster.start_worker()
    coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
    assert coordinator.wait(timeout=120) == 0, cluster.log_tail()
    received = cluster.smtp.handler.received
    assert sorted(received) == sorted(emails)
    assert set(received.values()) == {1}


def test_workers_killed_and_redis_restarted_mid_campaign_lose_nobody_and_double_nobody(
    cluster: Cluster, redis_server
) -> None:  # type: ignore[no-untyped-def]
    """3,000 recipients, 3 workers: one worker SIGKILLed at a random moment, twice (a new one
    started each time), and Redis restarted once, losing its queue. Everything finishes; a
    recipient who got two messages is one the journal reports unknown; nobody is lost."""
    total = 3000
    emails = write_contacts(cluster.work / "contacts.csv", total)
    rng = random.Random(int(os.environ.get("TIERII_TEST_SEED", random.randrange(10**6))))
    moments = sorted(rng.sample(range(total // 10, total * 8 // 10), 3))
    kill_at, restart_at, kill_again_at = moments
    print(f"seed moments: kill at {kill_at}, restart Redis at {restart_at}, kill at {kill_again_at}")
    workers = [cluster.start_worker(concurrency=2) for _ in range(3)]
    coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
    counter = cluster.smtp.handler

    assert counter.wait_for(kill_at, timeout=120), cluster.log_tail()
    cluster.kill(workers[rng.randrange(3)])
    cluster.start_worker(concurrency=2)
    assert counter.wait_for(restart_at, timeout=120), cluster.log_tail()
    redis_server.restart()
    assert counter.wait_for(kill_again_at, timeout=180), cluster.log_tail()
    alive = [w for w in cluster.workers if w.poll() is None]
    cluster.kill(rng.choice(alive))
    cluster.start_worker(concurrency=2)

    code = coordinator.wait(timeout=300)
    assert code in (0, 1), cluster.log_tail()  # 1: some recipients are unknown
    report = status(cluster)
    recipients = report["recipients"]
    unknown = {r["email"] for r in recipients["unknown"]}
    sent = {r["email"] for r in recipients["sent"]}
    assert not recipients["pending"] and not recipients["failed"], report["counts"]
    assert len(sent) + len(unknown) == total
    received = counter.received
    duplicates = {email for email, count in received.items() if count > 1}
    assert duplicates <= unknown, f"sent twice outside unknown: {sorted(duplicates - unknown)[:5]}"
    lost = [e for e in emails if received[e] == 0 and e not in unknown]
    assert lost == [], f"lost: {lost[:5]}"
    assert sent <= set(received)  # every recipient recorded sent did arrive
    print(f"unknown: {len(unknown)}, received twice: {len(duplicates)}, exit code {code}")


def test_rate_holds_across_all_workers_together(cluster: Cluster) -> None:
    """--rate 40/s with three workers: 240 messages cannot arrive faster than one bucket lets
    them (a per-worker share would be three times faster). The bound is the bucket's own:
    at most burst + rate x T in T seconds, so the span is at least (240 - burst) / rate."""
    emails = write_contacts(cluster.work / "contacts.csv", 240)
    for _ in range(3):
        cluster.start_worker(concurrency=2)
    coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache", "--rate", "40/s")
    assert coordinator.wait(timeout=120) == 0, cluster.log_tail()
    handler = cluster.smtp.handler
    assert sorted(handler.received) == sorted(emails) and set(handler.received.values()) == {1}
    burst = 8  # TokenBucket.for_messages(40): a fifth of a second's worth
    arrivals = handler.arrivals
    span = arrivals[-1] - arrivals[0]
    assert span >= (len(arrivals) - 2 * burst) / 40, f"{len(arrivals)} messages in {span:.2f} s"
    for i, start in enumerate(arrivals):  # and no window holds more than the bucket allows
        within = sum(1 for t in arrivals[i:] if t - start <= 1.0)
        assert within <= 2 * burst + 40, f"{within} messages in the second from {start}"


def test_the_coordinator_killed_and_run_again_resumes(cluster: Cluster) -> None:
    """SIGKILL the coordinator mid-campaign, run the same command again: it follows what is
    left (re-queueing what the journal does not show done) and nobody gets two messages."""
    emails = write_contacts(cluster.work / "contacts.csv", 600)
    for _ in range(2):
        cluster.start_worker(concurrency=2)
    first = cluster.send("contacts.csv", "-t", "welcome.mustache", "--rate", "100/s")
    assert cluster.smtp.handler.wait_for(150, timeout=120), cluster.log_tail()
    cluster.kill(first)
    again = cluster.send("contacts.csv", "-t", "welcome.mustache", "--rate", "100/s")
    assert again.wait(timeout=180) == 0, cluster.log_tail()
    received = cluster.smtp.handler.received
    assert sorted(received) == sorted(emails)
    assert set(received.values()) == {1}
    assert status(cluster)["counts"]["sent"] == 600


def test_without_any_worker_the_coordinator_stops_with_exit_3_and_a_rerun_finishes(cluster: Cluster) -> None:
    emails = write_contacts(cluster.work / "contacts.csv", 40)
    cluster.env.update(TIERII_CELERY_REQUEUE_AFTER="1", TIERII_CELERY_GIVE_UP_AFTER="1")
    result = cluster.run(
        "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", timeout=120
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "no worker is sending" in result.stdout + result.stderr
    assert cluster.smtp.handler.total == 0
    cluster.start_worker()  # the tasks still queued are sent; the re-run follows them to the end
    # a worker starting on a loaded machine may take longer than a second to send: the re-run
    # waits as a user's would (the defaults), so that only the first run tests giving up
    for name in ("TIERII_CELERY_REQUEUE_AFTER", "TIERII_CELERY_GIVE_UP_AFTER"):
        cluster.env.pop(name)
    again = cluster.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(cluster.smtp.handler.received) == sorted(emails)
    assert set(cluster.smtp.handler.received.values()) == {1}
