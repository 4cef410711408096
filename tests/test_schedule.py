"""Scheduled sends: --at waits for its moment (Ctrl-C cancels), --window pauses and resumes.

A controllable clock stands in for time: a wait moves it on, nothing really waits.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tierii_core import hookimpl
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.errors import ConfigurationError
from tierii_core.models import Contact, Outcome
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.schedule import Schedule, Window, countdown, parse_at, wait_until, zone
from tierii_core.settings import SettingsReader

LA = ZoneInfo("America/Los_Angeles")


class FakeClock:
    """Time that moves only when someone waits (or a test moves it)."""

    def __init__(self, now: datetime, cancel_after: float | None = None) -> None:
        self.current = now
        self.waited = 0.0
        self.cancel_after = cancel_after  # seconds of waiting after which "Ctrl-C" is pressed

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        self.current += timedelta(seconds=seconds)
        self.waited += seconds
        if self.cancel_after is not None and self.waited >= self.cancel_after:
            stop.set()
        return stop.is_set()


CONTACTS: list[Contact] = []
SENT: list[tuple[str, datetime]] = []
CLOCK: list[FakeClock] = []


class Contacts(ContactSource):
    name = "scheduled"
    patterns = ("scheduled:*",)

    def __iter__(self):
        yield from CONTACTS


class ClockedProvider(DeliveryProvider):
    """Sends at the fake clock's time; each call takes 20 minutes of it."""

    name = "clocked"
    max_batch = 2

    def send(self, messages):
        clock = CLOCK[0]
        outcomes = []
        for message in messages:
            SENT.append((message.contact.email, clock.now()))
            outcomes.append(Outcome.sent(message, self.name, "id"))
        clock.current += timedelta(minutes=20)
        return outcomes


class Plugin:
    @hookimpl
    def tierii_contact_sources(self):
        return [Contacts]

    @hookimpl
    def tierii_delivery_providers(self):
        return [ClockedProvider]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIERII_TRANSACTIONAL", "true")
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello\n")
    CONTACTS[:] = [Contact(f"c{i}@example.com", {"name": f"C{i}"}, f"s:{i}") for i in range(7)]
    SENT.clear()
    CLOCK.clear()

    def start(clock: FakeClock, schedule: Schedule):
        CLOCK.append(clock)
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(Plugin())
        options = SendOptions("scheduled:x", template, schedule=schedule)
        campaign = Campaign(pm, SettingsReader({"TIERII_PROVIDER": "clocked"}), options, clock=clock)
        campaign.prepare()
        return campaign.run()

    return start


def test_at_waits_for_its_moment_then_sends_everyone(run) -> None:
    now = datetime(2026, 4, 19, 12, 0, tzinfo=timezone.utc)
    at = parse_at("2026-04-20 09:00", LA)
    clock = FakeClock(now)
    with capture_logs() as logs:
        summary = run(clock, Schedule(at=at))
    assert summary.sent == 7 and summary.exit_code == 0
    assert SENT[0][1] == at  # the first message leaves at the moment, not before
    assert clock.waited == pytest.approx((at - now).total_seconds())
    events = [e["event"] for e in logs]
    assert events.index("schedule.waiting") < events.index("schedule.started") < events.index("run.started")


def test_ctrl_c_during_the_wait_cancels_and_sends_nothing(run) -> None:
    clock = FakeClock(datetime(2026, 4, 19, 12, 0, tzinfo=timezone.utc), cancel_after=30)
    summary = run(clock, Schedule(at=parse_at("2026-04-20 09:00", LA)))
    assert SENT == [] and summary.sent == 0
    assert summary.exit_code == 3 and "cancelled before the scheduled start" in (summary.stopped or "")


def test_the_window_pauses_sending_outside_it_and_resumes_inside(run) -> None:
    window = Window.parse("09:00-10:00", LA)
    clock = FakeClock(datetime(2026, 4, 20, 9, 30, tzinfo=LA))  # 30 minutes left in today's window
    with capture_logs() as logs:
        summary = run(clock, Schedule(window=window))
    assert summary.sent == 7
    assert all(window.contains(moment) for _, moment in SENT)
    days = sorted({moment.astimezone(LA).date() for _, moment in SENT})
    # 4 batches of 2, 20 minutes each: 9:30 and 9:50 on the first day, then 9:00 and 9:20 the next
    assert [moment.astimezone(LA).strftime("%d %H:%M") for _, moment in SENT[::2]] == [
        "20 09:30",
        "20 09:50",
        "21 09:00",
        "21 09:20",
    ]
    assert len(days) == 2
    assert sorted(email for email, _ in SENT) == sorted(c.email for c in CONTACTS)  # each once
    events = [e["event"] for e in logs]
    assert events.count("window.paused") == events.count("window.resumed") == 1


def test_a_window_that_spans_midnight() -> None:
    window = Window.parse("22:00-06:00", timezone.utc)
    assert window.contains(datetime(2026, 1, 1, 23, 0, tzinfo=timezone.utc))
    assert window.contains(datetime(2026, 1, 2, 5, 59, tzinfo=timezone.utc))
    assert not window.contains(datetime(2026, 1, 2, 6, 0, tzinfo=timezone.utc))
    assert window.next_open(datetime(2026, 1, 2, 12, 0, tzinfo=timezone.utc)) == datetime(
        2026, 1, 2, 22, 0, tzinfo=timezone.utc
    )


@given(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(LA)),
    st.times(),
    st.times(),
)
def test_next_open_is_the_first_moment_inside_the_window(moment, start, end) -> None:
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    if start == end:
        return
    window = Window(start, end, LA)
    opens = window.next_open(moment)
    assert opens >= moment
    assert window.contains(opens) or opens.astimezone(LA).replace(tzinfo=None) != opens.replace(tzinfo=None)
    if window.contains(moment):
        assert opens == moment
    else:  # nothing in between is inside: sample every 15 minutes
        probe = moment
        while probe + timedelta(minutes=15) < opens:
            probe += timedelta(minutes=15)
            assert not window.contains(probe)


def test_wait_until_polls_and_counts_down() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    shown: list[str] = []
    done = wait_until(
        clock.now() + timedelta(seconds=3.5), clock, threading.Event(), lambda r: shown.append(countdown(r))
    )
    assert done and shown == ["00:00:04", "00:00:03", "00:00:02", "00:00:01"]
    assert countdown(timedelta(days=2, hours=3, minutes=4, seconds=5)) == "2d 03:04:05"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_at("20/04/2026 9am", LA), 'expected a date and time such as "2026-04-20 09:00"'),
        (lambda: parse_at("2026-03-08 02:30", LA), "does not exist in America/Los_Angeles"),
        (lambda: zone("Mars/Olympus"), "--timezone 'Mars/Olympus': not a known time zone"),
        (lambda: Window.parse("9-18", LA), "--window '9-18': expected HH:MM-HH:MM"),
        (lambda: Window.parse("09:00-09:00", LA), "the window is empty"),
    ],
)
def test_bad_schedules_are_configuration_errors(call, message) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        call()
