"""SMTP connection caps shared by every worker: a semaphore in Redis with leases. Three workers
each able to open more connections than the cap hold at most the cap together (counted by the
server itself); a worker SIGKILLed while holding slots gives them back when its lease ends."""

from __future__ import annotations

import threading

from celery_cluster import Cluster, SessionCounter, status, write_contacts

from tierii_celery.slots import RedisConnectionSlots, share_connections


def test_no_more_than_the_cap_hold_a_slot_and_released_slots_go_to_the_next(redis_client) -> None:
    slots = RedisConnectionSlots(redis_client, "c", cap=2, lease=30)
    other = RedisConnectionSlots(redis_client, "c", cap=2, lease=30)  # another process, say
    try:
        first, second = slots.try_acquire(), other.try_acquire()
        assert first and second
        assert slots.try_acquire() is None and other.try_acquire() is None
        other.release(second)
        third = slots.try_acquire()
        assert third is not None and sorted(slots.holders()) == sorted([first, third])
    finally:
        slots.close()
        other.close()
    assert slots.holders() == []  # closing gives back what was held


def test_a_lease_nobody_renews_ends_and_its_slot_goes_to_another(redis_client) -> None:
    dead = RedisConnectionSlots(redis_client, "c", cap=1, lease=0.3)
    dead._closed.set()  # its heartbeat stops, as a killed process's does
    assert dead.try_acquire() is not None
    live = RedisConnectionSlots(redis_client, "c", cap=1, lease=30)
    waited = threading.Event()

    def pause(seconds: float) -> None:  # the wait for a slot, observed: no slot yet
        waited.set()
        threading.Event().wait(seconds)

    live._pause = pause
    try:
        token = live.acquire(lambda: False)  # returns once the dead holder's lease has ended
        assert token is not None and waited.is_set()
        assert live.holders() == [token]
    finally:
        live.close()


def test_the_heartbeat_keeps_a_held_slot_past_its_lease(redis_client) -> None:
    slots = RedisConnectionSlots(redis_client, "c", cap=1, lease=0.6)
    other = RedisConnectionSlots(redis_client, "c", cap=1, lease=30)
    try:
        token = slots.try_acquire()
        assert token is not None
        for _ in range(3):  # three leases long, renewed by each beat
            assert slots.renew() == 1
        assert other.try_acquire() is None
    finally:
        slots.close()
        other.close()


def test_the_acquire_gives_up_when_told_to_stop(redis_client) -> None:
    slots = RedisConnectionSlots(redis_client, "c", cap=1, lease=30, pause=lambda s: None)
    try:
        assert slots.try_acquire() is not None
        asked = []
        assert slots.acquire(lambda: asked.append(1) or len(asked) > 3) is None
    finally:
        slots.close()


def test_only_providers_with_the_seam_are_shared(redis_client) -> None:
    class Smtp:
        name = "smtp"
        max_connections = 3
        connection_key = "127.0.0.1:25"
        connection_slots = None

    class Api:
        name = "api"

    smtp, api = Smtp(), Api()
    shared = share_connections(redis_client, [smtp, api], lease=30)
    try:
        assert [s.key for s in shared] == ["tierii:connections:smtp:127.0.0.1:25"]
        assert smtp.connection_slots is shared[0] and shared[0].cap == 3
        assert not hasattr(api, "connection_slots")
    finally:
        for s in shared:
            s.close()


def test_three_workers_hold_at_most_the_cap_together_and_a_killed_one_leaks_no_slot(
    cluster: Cluster, redis_client
) -> None:
    # the run must outlast the killed worker's lease (1 s) by a margin, or the two left never
    # get its slot back before the end: 4,000 contacts at aiosmtpd's pace leave seconds of it
    cap, total = 3, 4000
    emails = write_contacts(cluster.work / "contacts.csv", total)
    with SessionCounter() as server:
        cluster.env.update(
            TIERII_SMTP_PORT=str(server.port),
            TIERII_SMTP_CONNECTIONS=str(cap),  # each worker could open 3, with 4 threads each
            TIERII_CELERY_CONNECTION_LEASE="1",
        )
        workers = [cluster.start_worker(concurrency=4) for _ in range(3)]
        coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
        assert server.handler.wait_for(150, timeout=120), cluster.log_tail()
        key = "tierii:connections:smtp:127.0.0.1:" + str(server.port)
        victim = workers[0]
        held = []
        while coordinator.poll() is None and not held:  # until the victim holds a slot
            held = [m for m in redis_client.zrange(key, 0, -1) if f":{victim.pid}:".encode() in m]
        cluster.kill(victim)
        before = server.peak
        with server._lock:  # from now on: the peak without the victim
            server.peak = server.open
        code = coordinator.wait(timeout=300)
        assert code in (0, 1), cluster.log_tail()
        report = status(cluster)
        recipients = report["recipients"]
        unknown = {r["email"] for r in recipients["unknown"]}
        assert not recipients["pending"] and not recipients["failed"], report["counts"]
        received = server.handler.received
        assert {e for e, n in received.items() if n > 1} <= unknown  # nobody twice outside unknown
        assert [e for e in emails if e not in received and e not in unknown] == []  # nobody lost
        assert max(before, server.peak) <= cap, f"{max(before, server.peak)} connections at once, cap {cap}"
        # the two left reached the cap again: the victim's slot came back when its lease ended
        assert server.peak == cap, f"after the kill at most {server.peak} connections: a slot leaked"
        assert server.sessions > cap  # connections came and went: the cap was shared, not split
        print(f"held by the killed worker: {len(held)}; sessions {server.sessions}, peak {server.peak}")
