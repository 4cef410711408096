"""Settings: the connection string and endpoint read strictly, the key never shown; and the
sliding windows that keep requests under ACS's per-minute and per-hour limits."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_azure.connection import parse_connection_string
from tierii_azure.pacing import SlidingWindows
from tierii_azure.provider import AzureProvider
from tierii_core.errors import SettingsError
from tierii_core.settings import SettingsReader

KEY = "c2VjcmV0LWtleS12YWx1ZQ=="


def test_a_connection_string_from_the_portal() -> None:
    connection = parse_connection_string(f"endpoint=https://shop.communication.azure.com/;accesskey={KEY}")
    assert connection.endpoint == "https://shop.communication.azure.com"
    assert connection.access_key.reveal() == KEY
    assert KEY not in repr(connection)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("accesskey=" + KEY, "has no endpoint"),
        ("endpoint=https://shop.communication.azure.com/", "has no accesskey"),
        ("endpoint=https://shop.communication.azure.com/;accesskey=%%%", "not base64"),
        (f"endpoint=http://shop.communication.azure.com/;accesskey={KEY}", "must use https"),
        (f"endpoint=https://shop.communication.azure.com/v1;accesskey={KEY}", "no path"),
        (f"endpoint=shop.communication.azure.com;accesskey={KEY}", "must be an https URL"),
        ("just-a-key", "name=value pairs"),
    ],
)
def test_a_bad_connection_string_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        parse_connection_string(text)
    assert KEY not in str(raised.value) and "%%%" not in str(raised.value)


def test_the_reader_names_the_variable_and_masks_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_AZURE_CONNECTION_STRING", f"endpoint=http://evil.example/;accesskey={KEY}")
    monkeypatch.setenv("TIERII_AZURE_PER_HOUR", "0")
    with pytest.raises(SettingsError) as raised:
        SettingsReader().load(AzureProvider.Settings, "azure")
    text = str(raised.value)
    assert "TIERII_AZURE_CONNECTION_STRING=******** (environment): the endpoint must use https" in text
    assert "TIERII_AZURE_PER_HOUR='0'" in text
    assert KEY not in text


def test_plain_http_is_for_the_loopback_only() -> None:
    assert parse_connection_string(f"endpoint=http://127.0.0.1:8080/;accesskey={KEY}").endpoint == (
        "http://127.0.0.1:8080"
    )


class FakeTime:
    """A clock that waiting moves on: ``stop.wait(s)`` advances it by ``s``."""

    def __init__(self) -> None:
        self.now = 0.0
        outer = self

        class Stop(threading.Event):
            def wait(self, timeout: float | None = None) -> bool:
                outer.now += timeout or 0.0
                return False

        self.stop = Stop()

    def __call__(self) -> float:
        return self.now


@settings(max_examples=50, deadline=None)
@given(
    per_minute=st.integers(1, 40),
    per_hour=st.integers(1, 150),
    gaps=st.lists(st.floats(0, 30), min_size=1, max_size=250),
)
def test_never_more_than_the_limit_in_any_window(per_minute: int, per_hour: int, gaps: list[float]) -> None:
    clock = FakeTime()
    windows = SlidingWindows([(per_minute, 60.0), (per_hour, 3600.0)], slack=0.0, clock=clock)
    granted = []
    for gap in gaps:
        clock.now += gap
        assert windows.acquire(clock.stop)
        granted.append(clock.now)
    for limit, window in ((per_minute, 60.0), (per_hour, 3600.0)):
        for i, start in enumerate(granted):
            inside = [t for t in granted[i:] if t < start + window]
            assert len(inside) <= limit


def test_a_short_campaign_goes_at_the_minute_pace_until_the_hour_is_full() -> None:
    clock = FakeTime()
    windows = SlidingWindows([(30, 60.0), (100, 3600.0)], slack=0.0, clock=clock)
    times = []
    for _ in range(101):
        windows.acquire(clock.stop)
        times.append(clock.now)
    assert times[29] == 0.0 and times[30] == 60.0  # 30 at once, the next a minute later
    assert times[99] == 180.0  # the hour's 100 within four minutes
    assert times[100] == 3600.0  # the 101st when the first leaves the hour


def test_waiting_stops_when_the_run_stops() -> None:
    windows = SlidingWindows([(1, 60.0)])
    stop = threading.Event()
    assert windows.acquire(stop)
    stop.set()
    assert windows.acquire(stop) is False
