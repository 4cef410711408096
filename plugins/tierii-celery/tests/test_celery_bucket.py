"""The shared token bucket: one Lua script in a real Redis, a clock the test controls."""

from __future__ import annotations

import multiprocessing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_celery.bucket import RedisTokenBucket
from tierii_celery.testing import reserve_at_one_instant


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_the_burst_through_then_spaces_the_rest(redis_client) -> None:
    clock = Clock()
    bucket = RedisTokenBucket(redis_client, "b", rate=10.0, burst=5, clock=clock)
    waits = [bucket.reserve(1) for _ in range(8)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:] == pytest.approx([0.1, 0.2, 0.3])


def test_time_refills_the_bucket_up_to_its_capacity_only(redis_client) -> None:
    clock = Clock()
    bucket = RedisTokenBucket(redis_client, "b", rate=2.0, burst=4, clock=clock)
    assert bucket.reserve(4) == 0.0
    clock.now += 1.0  # two tokens back
    assert bucket.reserve(2) == 0.0
    assert bucket.reserve(1) == pytest.approx(0.5)
    clock.now += 3600  # a long pause refills to the capacity, not beyond
    assert bucket.reserve(4) == 0.0
    assert bucket.reserve(1) == pytest.approx(0.5)


def test_a_request_larger_than_the_capacity_takes_the_whole_bucket(redis_client) -> None:
    bucket = RedisTokenBucket(redis_client, "b", rate=1.0, burst=3, clock=Clock())
    assert bucket.reserve(50) == 0.0
    assert bucket.reserve(1) == pytest.approx(1.0)


def test_acquire_waits_the_time_the_script_returns_and_stops_when_told(redis_client) -> None:
    import threading

    slept: list[float] = []

    def sleep(seconds: float, stop: threading.Event | None) -> bool:
        slept.append(seconds)
        return not (stop is not None and stop.is_set())

    bucket = RedisTokenBucket(redis_client, "b", rate=4.0, burst=1, clock=Clock(), sleep=sleep)
    assert bucket.acquire(1)
    assert slept == []
    assert bucket.acquire(1)
    assert slept == [pytest.approx(0.25)]
    stop = threading.Event()
    stop.set()
    assert not bucket.acquire(1, stop)


def test_without_a_clock_it_uses_the_redis_servers_own(redis_client) -> None:
    bucket = RedisTokenBucket.for_requests(redis_client, "r", per_minute=60)
    assert bucket.reserve(1) == 0.0
    assert 0.9 < bucket.reserve(1) <= 1.0


# the key is deleted at the start of each example: the shared server is safe to reuse
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rate=st.floats(0.5, 50),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 10)), min_size=1, max_size=40),
)
def test_no_window_ever_holds_more_than_burst_plus_rate_times_its_length(
    redis_client, rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    redis_client.delete("p")
    clock = Clock()
    bucket = RedisTokenBucket(redis_client, "p", rate=rate, burst=burst, clock=clock)
    used: list[tuple[float, int]] = []  # (the moment the tokens are used, how many)
    for advance, tokens in steps:
        clock.now += advance
        taken = min(tokens, burst)
        used.append((clock.now + bucket.reserve(tokens), taken))
    used.sort()
    for i, (start, _) in enumerate(used):
        for end, _ in used[i:]:
            in_window = sum(n for at, n in used if start <= at <= end)
            assert in_window <= burst + rate * (end - start) + 1e-6


def test_processes_sharing_the_bucket_get_one_schedule_between_them(redis_server) -> None:
    """Four processes reserve at the same instant: the waits they get are exactly the one
    schedule a single caller would get (no reservation lost or doubled by a race)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=reserve_at_one_instant, args=(redis_server.url, 50, queue)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    waits = sorted(w for _ in workers for w in queue.get(timeout=60))
    for worker in workers:
        worker.join()
    expected = [max(0.0, (i + 1 - 5) / 10.0) for i in range(200)]
    assert waits == pytest.approx(expected)
