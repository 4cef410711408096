"""The daily quota every worker shares: one Lua script on a counter per account and UTC day in
a real Redis; then real workers against the MailerSend emulator's own quota: exactly the quota
goes out, the rest stays for the run after the day turns, nobody twice, nobody lost."""

from __future__ import annotations

import multiprocessing
import sys

import pytest
from celery_cluster import Cluster, status, write_contacts

from tierii_celery import quota as quotas
from tierii_celery.quota import SharedDailyQuota, SharedQuotaSlot, shared_slot
from tierii_celery.testing import take_quota_at_once


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    today = ["2026-11-28"]
    monkeypatch.setattr(quotas, "day_source", lambda: today[0])
    return today


def test_the_quota_is_taken_whole_or_refused_and_turns_with_the_day(redis_client, day) -> None:
    quota = SharedDailyQuota(redis_client, "q", 5)
    assert [quota.take(2), quota.take(2), quota.take(2), quota.take(1)] == [True, True, False, True]
    assert quota.used() == 5
    assert not quota.take(1)
    day[0] = "2026-11-29"
    assert quota.used() == 0
    assert quota.take(5) and not quota.take(1)


def test_without_a_day_source_redis_s_clock_names_the_day(redis_client) -> None:
    quota = SharedDailyQuota(redis_client, "q", 2)
    assert quota.take(2) and not quota.take(1)
    seconds, _ = redis_client.time()
    assert int(redis_client.get(f"q:{seconds // 86400}")) == 2
    assert 0 < redis_client.ttl(f"q:{seconds // 86400}") <= quotas.KEEP_SECONDS


def test_processes_taking_at_once_never_pass_the_quota_together(redis_server) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [
        context.Process(target=take_quota_at_once, args=(redis_server.url, 40, 75, queue)) for _ in range(4)
    ]
    for child in children:
        child.start()
    granted = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert sum(granted) == 75  # 160 asked for, 75 allowed: exactly the quota, whoever asked


class Provider:
    name = "mailersend"
    max_per_day: int | None = None


def test_the_slot_counts_the_provider_s_quota_in_redis_and_is_out_with_the_core_s_reason(
    redis_client, day
) -> None:
    provider = Provider()
    provider.max_per_day = 2  # learnt in open(), after the slot was made: read at each call
    first, second = shared_slot(redis_client, provider, None), shared_slot(redis_client, provider, None)
    assert isinstance(first, SharedQuotaSlot)
    assert first.take_call() and second.take_call()
    assert not first.take_call()
    assert first.dead == "its daily quota of 2 requests is used up"
    assert second.dead is None and not second.take_call() and second.dead == first.dead


def test_each_account_has_its_own_counter_named_without_its_secret() -> None:
    from tierii_celery.quota import quota_key
    from tierii_core.models import Credentials, Secret

    one, same, other, named = Provider(), Provider(), Provider(), Provider()
    one.credentials = same.credentials = Credentials(secret=Secret("mlsn.token-of-shop-one"))
    other.credentials = Credentials(secret=Secret("mlsn.token-of-shop-two"))
    named.account = "shop-3"
    assert quota_key(one) == quota_key(same) != quota_key(other)
    assert "token" not in quota_key(one) and quota_key(named) == "tierii:quota:mailersend:shop-3"


def test_a_provider_without_a_quota_is_counted_as_the_core_counts(redis_client) -> None:
    slot = shared_slot(redis_client, Provider(), None)
    assert all(slot.take_call() for _ in range(100))
    assert redis_client.keys("tierii:quota:*") == []


# -- real workers, the emulator's quota -----------------------------------------------------------

DAY_SOURCE = (
    "import os\n"
    "from tierii_celery import quota\n"
    "quota.day_source = lambda: open(os.environ['QUOTA_DAY_FILE']).read().strip()\n"
    "from tierii_core.cli import main\n"
    "main()\n"
)


def test_workers_send_exactly_the_daily_quota_and_the_rest_after_the_day_turns(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tierii_mailersend")
    from tierii_mailersend.testing import LocalMailerSend

    quota, total = 25, 40
    emails = write_contacts(cluster.work / "contacts.csv", total)
    day_file = cluster.work / "day"
    day_file.write_text("2026-11-28\n", encoding="utf-8")
    # the workers' day is the file's: the test turns it (no sleeping until midnight)
    monkeypatch.setattr(cluster, "tierii", lambda *args: [sys.executable, "-c", DAY_SOURCE, *args])
    with LocalMailerSend(daily_quota=quota, limits={"email": None, "other": None}) as api:
        cluster.env.update(api.environment())
        cluster.env.update(
            QUOTA_DAY_FILE=str(day_file),
            TIERII_PROVIDER="mailersend",
            TIERII_MAILERSEND_BULK_SIZE="1",  # one request per recipient: the quota counts recipients
            TIERII_MAILERSEND_EMAIL_PER_MINUTE="6000",
            TIERII_MAILERSEND_DAILY_QUOTA=str(quota),
            TIERII_BATCH_SIZE="4",
        )
        for _ in range(3):
            cluster.start_worker(concurrency=3)
        first = cluster.run(
            "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", timeout=180
        )
        assert first.returncode == 3, cluster.log_tail() + first.stdout + first.stderr
        assert f"its daily quota of {quota} requests is used up" in first.stdout
        assert "the rest stays pending" in first.stdout
        assert len(api.messages) == quota  # 9 senders at once, not one request past the quota
        assert api.count("email", 429) == 0
        report = status(cluster)
        assert len(report["recipients"]["sent"]) == quota
        assert not report["recipients"]["unknown"] and not report["recipients"]["failed"]

        day_file.write_text("2026-11-29\n", encoding="utf-8")  # midnight UTC, for workers and API
        api.account.quota.reset()
        second = cluster.run(
            "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", timeout=180
        )
        assert second.returncode == 0, cluster.log_tail() + second.stdout + second.stderr
        received: dict[str, int] = {}
        for message in api.messages:
            received[message.recipient] = received.get(message.recipient, 0) + 1
        assert sorted(received) == sorted(emails)  # nobody lost
        assert set(received.values()) == {1}  # nobody twice
        assert api.count("email", 429) == 0
        report = status(cluster)
        assert len(report["recipients"]["sent"]) == total


def test_a_campaign_s_stop_reads_as_none_while_redis_is_away_and_again_once_back(
    redis_server, redis_client
) -> None:
    """The coordinator asks every second: a Redis restart must not end it with a traceback
    (CI saw one); it asks again on the next tick."""
    from tierii_celery.halt import Halts

    halts = Halts(redis_client)
    halts.halt("c", "the daily quota is used up")
    redis_server.stop()
    assert halts.reason("c") is None
    redis_server.start()
    halts.halt("c", "the daily quota is used up")
    assert halts.reason("c") == "the daily quota is used up"
