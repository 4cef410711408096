"""The campaign loop with in-test components: batching, retries, failures, fatal stops, observers."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tierii_core import hookimpl, pump, runner, sending
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.delivery import CircuitBreaker, backoff
from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.journal import SqliteJournal, check_state_dir
from tierii_core.models import Contact, ErrorKind, Outcome, Rejected, Status
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
    message_ids: dict[str, list[str]] = {}  # address -> the Message-ID of each message handed over


class ScriptedProvider(DeliveryProvider):
    """Answers as the Script says."""

    name = "scripted"
    max_batch = 3

    def send(self, messages):
        Script.calls.append([m.contact.email for m in messages])
        for m in messages:
            Script.message_ids.setdefault(m.contact.email, []).append(m.message_id)
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
    Script.message_ids = {}
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
    # a record without a valid address is a recipient who did not get it: failed, not excluded
    assert (summary.sent, summary.failed, summary.excluded) == (2, 2, 0)
    reasons = sorted(f.reason for f in summary.failures)
    assert reasons[0].startswith("invalid email address 'x'")
    assert "no value for template variable 'name'" in reasons[1]
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
    monkeypatch.setattr(sending, "BREAKER_MIN_SECONDS", 0.0)  # the outage has lasted long enough
    RECORDS.extend(contacts(60))
    Script.replies = {f"c{i}@example.com": ["451"] for i in range(60)}
    summary = campaign(reset).run()
    assert summary.exit_code == 3
    assert "circuit breaker open: 51 transient failures in a row" in summary.stopped
    # the next batch is queued (pending) or not read yet, as the two threads happen to
    # interleave on a loaded machine; it is never sent
    assert summary.pending in (0, 3)
    assert sum(len(c) for c in Script.calls) == 51  # the batch in flight completes, nothing after


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


class Crashing(DeliveryProvider):
    """A provider with a bug."""

    name = "crashing"
    max_batch = 3

    def send(self, messages):
        return {}["no such key"]


class StuckProvider(DeliveryProvider):
    """Hands its first message over, then waits on a silent server until interrupted; the
    user presses Ctrl-C meanwhile."""

    name = "stuck"
    max_batch = 3
    interrupted = threading.Event()

    def send(self, messages):
        StuckProvider.interrupted.clear()
        os.kill(os.getpid(), signal.SIGINT)
        assert StuckProvider.interrupted.wait(30), "interrupt() was never called"
        first, *rest = messages
        return [Outcome.unknown(first, self.name, "connection shut after the data")] + [
            Outcome.transient(m, self.name, "not sent: interrupted") for m in rest
        ]

    def interrupt(self):
        StuckProvider.interrupted.set()


class Extra:
    @hookimpl
    def tierii_delivery_providers(self):
        return [Clocked, Dead, Flaky, Crashing, StuckProvider]


def chain(template: Path, providers: str, options: dict | None = None, **overrides: str) -> Campaign:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(TestPlugin())
    pm.register(Extra())
    reader = SettingsReader({"TIERII_PROVIDER": providers, **overrides})
    c = Campaign(pm, reader, SendOptions("list:x", template, **(options or {})))
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


def test_the_journal_keeps_the_message_id_each_recipient_was_sent(reset: Path) -> None:
    """What a returned bounce or complaint is matched by (tierii-feedback); a resend is a new
    message, and its Message-ID replaces the one before."""
    RECORDS.extend(contacts(4))
    Script.replies = {"c1@example.com": ["451", "ok"], "c2@example.com": ["550"]}
    campaign(reset).run()
    campaign(reset, retry_failed=True).run()
    journal = SqliteJournal(reset.parent / "work" / ".tierii", read_only=True)
    try:
        recorded = {r.email: r.message_id for r in journal.recipients(journal.campaigns()[0])}
        assert recorded == {email: ids[-1] for email, ids in Script.message_ids.items()}
        assert len(set(Script.message_ids["c1@example.com"])) == 1  # a retry resends the same message
        assert len(set(Script.message_ids["c2@example.com"])) == 2  # the next run composes anew
        for email, message_id in recorded.items():
            found = journal.find_message(message_id)
            assert found is not None and (found.email, found.state) == (email, Status.SENT)
    finally:
        journal.close()


def test_a_journal_store_from_before_message_ids_still_works(reset: Path) -> None:
    class Before:
        """A third-party store written against the Journal protocol before Message-IDs."""

        def __init__(self, inner: SqliteJournal) -> None:
            self.inner = inner

        def claim(self, campaign, items):
            claimed.extend(key for key, _ in items)
            self.inner.claim(campaign, items)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    claimed: list[str] = []
    RECORDS.extend(contacts(4))
    c = campaign(reset)
    c.journal = Before(c.journal)
    summary = c.run()
    assert (summary.sent, summary.exit_code) == (4, 0)
    assert sorted(claimed) == [f"c{i}@example.com" for i in range(4)]


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


# -- the journal's promises: a mistake fixed is never a campaign lost (hardening) -------------


def test_a_variable_no_column_provides_is_refused_before_sending(reset: Path) -> None:
    reset.write_text("Subject: Your {{favourite}}\nFrom: shop@example.com\n\nHi\n")
    RECORDS.extend(Contact(f"c{i}@example.com", {"favorite": "gummies"}, f"list:{i}") for i in range(3))
    with pytest.raises(ConfigurationError) as refused:
        campaign(reset)
    assert "{{favourite}}" in str(refused.value) and "did you mean {{favorite}}" in str(refused.value)
    assert Script.calls == []


def test_a_from_line_that_cannot_parse_is_refused_before_sending(reset: Path) -> None:
    reset.write_text("Subject: Hi\nFrom: Green Leaf hello at greenleaf.example\n\nHi\n")
    RECORDS.extend(contacts(3))
    with pytest.raises(ConfigurationError, match=r"From 'Green Leaf hello at greenleaf\.example'"):
        campaign(reset)


def test_a_sender_address_no_provider_can_carry_is_refused_before_sending(reset: Path) -> None:
    reset.write_text("Subject: Hi\nFrom: Green Leaf <hellö@greenleaf.example>\n\nHi\n")
    RECORDS.extend(contacts(2))
    with pytest.raises(ConfigurationError, match="SMTPUTF8"):
        campaign(reset)


def test_a_contact_s_own_gap_fails_it_and_the_fixed_template_sends_it_next_run(reset: Path) -> None:
    RECORDS.extend(contacts(2))
    RECORDS.append(Contact("gap@example.com", {}, "list:3"))
    first = campaign(reset).run()
    assert (first.sent, first.failed) == (2, 1)
    reset.write_text("Subject: Hi\nFrom: shop@example.com\n\nHello\n")  # the user fixes the template
    again = campaign(reset).run()
    assert (again.sent, again.skipped, again.failed) == (1, 2, 0)
    assert Script.delivered == Counter({"c0@example.com": 1, "c1@example.com": 1, "gap@example.com": 1})


def test_an_outage_s_failures_are_retried_by_the_next_run_without_a_flag(
    reset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_MAX_ATTEMPTS", "2")
    RECORDS.extend(contacts(3))
    Script.replies = {"c1@example.com": ["451", "451"], "c2@example.com": ["550"]}
    first = campaign(reset).run()
    assert (first.sent, first.failed) == (1, 2)
    again = campaign(reset).run()  # no --retry-failed: only the outage's failure is retried
    assert (again.sent, again.skipped) == (1, 2)
    assert Script.delivered == Counter({"c0@example.com": 1, "c1@example.com": 1})
    journal = SqliteJournal(reset.parent / "work" / ".tierii", read_only=True)
    [record] = journal.recipients(again.campaign, Status.FAILED)
    assert (record.email, record.failure) == ("c2@example.com", "permanent")


def test_changing_the_provider_does_not_make_a_new_campaign(reset: Path) -> None:
    RECORDS.extend(contacts(6))
    first = chain(reset, "scripted", {"limit": 3}).run()
    assert first.sent == 3
    second = chain(reset, "flaky,scripted").run()  # another provider chain, same campaign
    assert second.campaign == first.campaign
    assert (second.sent, second.skipped) == (3, 3)
    assert all(count == 1 for count in Script.delivered.values()) and len(Script.delivered) == 6


def test_a_campaign_begun_before_the_upgrade_resumes_under_its_old_name(reset: Path) -> None:
    RECORDS.extend(contacts(4))
    old_name = runner.legacy_campaign_id(SendOptions("list:x", reset), ("scripted",))
    journal = SqliteJournal(check_state_dir(reset.parent / "work" / ".tierii"))
    journal.open_campaign(old_name, "list:x", str(reset), ["scripted"])
    journal.record(
        old_name, [("c0@example.com", "list:1", Outcome("c0@example.com", Status.SENT, "scripted"))]
    )
    journal.close()
    summary = campaign(reset).run()
    assert summary.campaign == old_name
    assert (summary.sent, summary.skipped) == (3, 1)
    assert "c0@example.com" not in Script.delivered


def test_a_repeated_address_never_overwrites_the_first_one_s_record(
    reset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_CONCURRENCY", "4")
    monkeypatch.setenv("TIERII_BATCH_SIZE", "1")
    RECORDS.extend(contacts(6))
    RECORDS.append(
        Rejected("list:7", "repeated address c0@example.com", "c0@example.com", "repeated-address")
    )
    summary = campaign(reset).run()
    assert (summary.sent, summary.excluded, summary.skipped) == (6, 1, 0)
    journal = SqliteJournal(reset.parent / "work" / ".tierii", read_only=True)
    assert journal.counts(summary.campaign)["sent"] == 6
    again = campaign(reset).run()
    assert (again.sent, again.skipped) == (0, 7)


def test_a_provider_that_crashes_stops_the_run_and_its_batch_is_unknown(reset: Path) -> None:
    RECORDS.extend(contacts(5))
    summary = chain(reset, "crashing").run()
    assert summary.exit_code == 3
    assert "failed unexpectedly (KeyError" in summary.stopped
    assert summary.unknown == 3  # the batch it was given: it may have sent some


def test_the_first_ctrl_c_interrupts_a_provider_stuck_on_the_network(
    reset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pump, "INTERRUPT_AFTER", 0.0)
    RECORDS.extend(contacts(3))
    summary = chain(reset, "stuck").run()
    assert StuckProvider.interrupted.is_set()
    assert summary.exit_code == 3 and summary.stopped.startswith("interrupted")
    assert summary.unknown == 1  # what was on the wire when the socket was shut


def test_the_breaker_lets_backoff_ride_out_a_short_outage() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=5, min_calls=2, min_seconds=60.0, clock=lambda: now[0])
    message = Contact("a@example.com")
    failures = [Outcome(message.email, Status.FAILED, reason="refused", kind=ErrorKind.TRANSIENT)] * 10
    breaker.record(failures)
    breaker.record(failures)
    assert not breaker.is_open  # failing for less than a minute: keep retrying
    now[0] = 61.0
    assert breaker.is_open
    breaker.record([Outcome(message.email, Status.SENT)])
    assert not breaker.is_open  # anything delivered ends the streak


def test_backoff_spans_an_outage_of_about_a_minute() -> None:
    waits = [backoff(attempt) for attempt in range(1, 8)]  # 8 attempts: 7 waits
    assert 45.0 <= sum(waits) <= 91.0
