"""The campaign loop with in-test components: batching, retries, failures, fatal stops, observers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tierii_core import hookimpl
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.delivery import backoff
from tierii_core.errors import FatalProviderError
from tierii_core.models import Contact, Outcome, Rejected
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader

RECORDS: list = []


class ListSource(ContactSource):
    """Contacts from the test's RECORDS list."""

    name = "list"
    patterns = ("list:*",)

    def estimate_count(self) -> int:
        return len(RECORDS)

    def __iter__(self):
        yield from RECORDS


class Script:
    """What the test provider does: per address, a list of replies for successive attempts."""

    replies: dict[str, list[str]] = {}
    calls: list[list[str]] = []
    delivered: Counter = Counter()
    fatal_after: int | None = None


class ScriptedProvider(DeliveryProvider):
    """Answers as the Script says."""

    name = "scripted"
    max_batch = 3

    def send(self, messages):
        Script.calls.append([m.contact.email for m in messages])
        if Script.fatal_after is not None and len(Script.calls) > Script.fatal_after:
            raise FatalProviderError("authentication failed: 535 bad credentials")
        outcomes = []
        for m in messages:
            replies = Script.replies.get(m.contact.email, [])
            reply = replies.pop(0) if replies else "ok"
            if reply == "ok":
                Script.delivered[m.contact.email] += 1
                outcomes.append(Outcome.sent(m, self.name, f"id-{m.contact.email}"))
            elif reply == "451":
                outcomes.append(Outcome.transient(m, self.name, "451 try later"))
            elif reply == "550":
                outcomes.append(Outcome.permanent(m, self.name, "550 no such user"))
            elif reply == "silent":
                pass
        return outcomes


class Events:
    seen: list = []


class TestPlugin:
    @hookimpl
    def tierii_contact_sources(self):
        return [ListSource]

    @hookimpl
    def tierii_delivery_providers(self):
        return [ScriptedProvider]

    @hookimpl
    def tierii_run_started(self, run):
        Events.seen.append(("started", run.total))

    @hookimpl
    def tierii_batch_finished(self, run, outcomes):
        Events.seen.append(("batch", len(outcomes)))

    @hookimpl
    def tierii_run_finished(self, run, summary):
        Events.seen.append(("finished", summary.sent))


class BrokenObserver:
    @hookimpl
    def tierii_batch_finished(self, run, outcomes):
        raise RuntimeError("observer bug")


@pytest.fixture(autouse=True)
def reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    RECORDS.clear()
    Script.replies, Script.calls, Script.delivered, Script.fatal_after = {}, [], Counter(), None
    Events.seen = []
    monkeypatch.setenv("TIERII_RETRY_DELAY", "0")
    monkeypatch.setenv("TIERII_TRANSACTIONAL", "true")  # delivery tests: the marketing rules are tested apart
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello {{name}}\n")
    return template


def contacts(n: int) -> list[Contact]:
    return [Contact(f"c{i}@example.com", {"name": f"C{i}"}, f"list:{i + 1}") for i in range(n)]


def campaign(template: Path, *plugins: object, **options) -> Campaign:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(TestPlugin())
    for plugin in plugins:
        pm.register(plugin)
    c = Campaign(
        pm, SettingsReader({"TIERII_PROVIDER": "scripted"}), SendOptions("list:x", template, **options)
    )
    c.prepare(need_provider=not options.get("dry_run", False))
    return c


def test_batches_by_max_batch_and_notifies_observers(reset: Path) -> None:
    RECORDS.extend(contacts(7))
    summary = campaign(reset).run()
    assert [len(c) for c in Script.calls] == [3, 3, 1]
    assert summary.sent == 7 and summary.exit_code == 0
    assert Events.seen == [("started", 7), ("batch", 3), ("batch", 3), ("batch", 1), ("finished", 7)]


def test_transient_failures_are_retried_then_delivered_once(reset: Path) -> None:
    RECORDS.extend(contacts(3))
    Script.replies = {"c1@example.com": ["451", "451", "ok"]}
    summary = campaign(reset).run()
    assert summary.sent == 3 and summary.failed == 0
    assert Script.delivered == Counter({f"c{i}@example.com": 1 for i in range(3)})
    assert Script.calls == [
        ["c0@example.com", "c1@example.com", "c2@example.com"],
        ["c1@example.com"],
        ["c1@example.com"],
    ]


def test_transient_failures_give_up_after_max_attempts(reset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_MAX_ATTEMPTS", "2")
    RECORDS.extend(contacts(2))
    Script.replies = {"c0@example.com": ["451"] * 5}
    summary = campaign(reset).run()
    assert (summary.sent, summary.failed, summary.exit_code) == (1, 1, 1)
    assert summary.failures[0].reason == "451 try later (after 2 attempts)"


def test_one_permanent_failure_never_stops_the_others(reset: Path) -> None:
    RECORDS.extend(contacts(5))
    Script.replies = {"c2@example.com": ["550"]}
    with capture_logs() as logs:
        summary = campaign(reset).run()
    assert (summary.sent, summary.failed, summary.exit_code) == (4, 1, 1)
    failed = [e for e in logs if e["event"] == "message.failed"]
    assert failed == [
        {
            "event": "message.failed",
            "log_level": "warning",
            "origin": "list:3",
            "email": "c2@example.com",
            "kind": "permanent",
            "reason": "550 no such user",
        }
    ]


def test_a_message_without_an_outcome_is_unknown_not_sent(reset: Path) -> None:
    RECORDS.extend(contacts(2))
    Script.replies = {"c0@example.com": ["silent"]}
    summary = campaign(reset).run()
    assert (summary.sent, summary.unknown, summary.exit_code) == (1, 1, 1)


def test_missing_variable_and_rejected_records(reset: Path) -> None:
    RECORDS.extend(contacts(2))
    RECORDS.append(Contact("nameless@example.com", {}, "list:3"))
    RECORDS.append(Rejected("list:4", "invalid email address 'x': no @", "x"))
    summary = campaign(reset).run()
    assert (summary.sent, summary.failed, summary.excluded) == (2, 1, 1)
    assert summary.excluded_by_reason == {"invalid email address": 1}
    assert "no value for template variable 'name'" in summary.failures[0].reason
    assert "nameless@example.com" not in Script.delivered


def test_fatal_error_stops_the_run_with_exit_3_and_records_nothing_unaccepted(reset: Path) -> None:
    RECORDS.extend(contacts(9))
    Script.fatal_after = 1
    summary = campaign(reset).run()
    assert summary.exit_code == 3
    assert summary.sent == 3  # the first batch, accepted before the failure
    assert "535" in summary.stopped


def test_circuit_breaker_opens_after_consecutive_transient_failures(
    reset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_MAX_ATTEMPTS", "1")
    RECORDS.extend(contacts(60))
    Script.replies = {f"c{i}@example.com": ["451"] for i in range(60)}
    summary = campaign(reset).run()
    assert summary.exit_code == 3
    assert "circuit breaker open: 51 transient failures in a row" in summary.stopped
    assert summary.pending == 3  # the next batch was queued, never sent
    assert sum(len(c) for c in Script.calls) == 51  # the batch in flight completes


def test_a_failing_observer_is_logged_and_the_run_goes_on(reset: Path) -> None:
    RECORDS.extend(contacts(2))
    with capture_logs() as logs:
        summary = campaign(reset, BrokenObserver()).run()
    assert summary.sent == 2
    assert any(e["event"] == "observer.failed" and "observer bug" in e["error"] for e in logs)


def test_dry_run_renders_everything_and_sends_nothing(reset: Path) -> None:
    RECORDS.extend(contacts(4))
    summary = campaign(reset, dry_run=True).run()
    assert (summary.rendered, summary.sent, Script.calls) == (4, 0, [])


def test_limit_stops_after_n_records(reset: Path) -> None:
    RECORDS.extend(contacts(10))
    summary = campaign(reset, limit=4).run()
    assert summary.sent == 4


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= backoff(1, 1.0) <= 1.0 for _ in range(50))
    assert all(0 <= backoff(10, 1.0, cap=5.0) <= 5.0 for _ in range(50))
    assert max(backoff(6, 1.0) for _ in range(200)) > 2.0


def test_auto_picks_the_configured_provider_with_the_highest_priority(reset: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(TestPlugin())
    c = Campaign(pm, SettingsReader(), SendOptions("list:x", reset))
    c.prepare()
    assert c.provider_names == ("outbox",)  # scripted says it is not configured


class Clocked(DeliveryProvider):
    """Records when each message was handed over."""

    name = "clocked"
    max_batch = 50
    times: list[float] = []

    def send(self, messages):
        import time

        now = time.monotonic()
        Clocked.times += [now] * len(messages)
        return [Outcome.sent(m, self.name) for m in messages]


class Dead(DeliveryProvider):
    """Refuses every login."""

    name = "dead"
    max_batch = 5

    def open(self):
        raise FatalProviderError("authentication failed (535)")


class Flaky(DeliveryProvider):
    """Never accepts anything: always 451."""

    name = "flaky"
    max_batch = 4

    def send(self, messages):
        return [Outcome.transient(m, self.name, "451 busy") for m in messages]


class Extra:
    @hookimpl
    def tierii_delivery_providers(self):
        return [Clocked, Dead, Flaky]


def chain(template: Path, providers: str, **overrides: str) -> Campaign:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(TestPlugin())
    pm.register(Extra())
    reader = SettingsReader({"TIERII_PROVIDER": providers, **overrides})
    c = Campaign(pm, reader, SendOptions("list:x", template))
    c.prepare()
    return c


def test_rate_limit_holds_in_every_window(reset: Path) -> None:
    RECORDS.extend(contacts(120))
    Clocked.times = []
    c = chain(reset, "clocked", TIERII_RATE_LIMIT="200/s")
    assert c.batch_size == 40  # cut to the bucket's burst (a fifth of a second)
    summary = c.run()
    assert summary.sent == 120
    times = Clocked.times
    for start in times:
        in_window = sum(1 for t in times if start <= t < start + 0.25)
        assert in_window <= 40 + 200 * 0.25 + 1


def test_fatal_provider_falls_back_to_the_next(reset: Path) -> None:
    RECORDS.extend(contacts(6))
    summary = chain(reset, "dead,scripted").run()
    assert summary.sent == 6 and summary.exit_code == 0
    assert len(Script.delivered) == 6


def test_exhausted_transient_errors_fall_back_but_unknown_never_does(reset: Path) -> None:
    RECORDS.extend(contacts(4))
    Script.replies = {"c3@example.com": ["silent"]}  # the scripted provider gives no answer: unknown
    summary = chain(reset, "flaky,scripted", TIERII_MAX_ATTEMPTS="2").run()
    assert (summary.sent, summary.unknown) == (3, 1)
    assert Script.calls == [["c0@example.com", "c1@example.com", "c2@example.com"], ["c3@example.com"]]


def test_every_provider_dead_stops_before_sending(reset: Path) -> None:
    RECORDS.extend(contacts(3))
    summary = chain(reset, "dead").run()
    assert summary.exit_code == 3 and "authentication failed" in summary.stopped
    assert summary.sent == 0


def test_rerun_skips_done_and_retries_failed_only_when_asked(reset: Path) -> None:
    RECORDS.extend(contacts(4))
    Script.replies = {"c1@example.com": ["550"], "c2@example.com": ["silent"]}
    first = campaign(reset).run()
    assert (first.sent, first.failed, first.unknown) == (2, 1, 1)
    again = campaign(reset).run()
    assert (again.sent, again.skipped, again.unknown) == (0, 3, 1)
    assert sum(len(c) for c in Script.calls) == 4  # nothing resent
    retried = campaign(reset, retry_failed=True, retry_unknown=True).run()
    assert retried.sent == 2
    assert Script.delivered["c1@example.com"] == 1 and Script.delivered["c2@example.com"] == 1
