"""Scheduled sends: ``--at`` a moment in a time zone, and a sending ``--window`` of the day.

Everything is prepared and checked before the wait (a configuration error is exit 2 now, not
at 9 a.m.); then the run waits, showing the countdown, and Ctrl-C cancels it (exit 3: nothing
was sent, run the command again). A ``--window 09:00-18:00`` pauses sending outside those
hours (in the campaign's time zone) and resumes inside them; the batches in flight finish.

Time comes from a :class:`~tierii_core.clock.Clock`, so tests move it on instead of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from typing import TYPE_CHECKING

from attrs import frozen

from tierii_core.clock import Clock, SystemClock  # noqa: F401 (SystemClock: its place before clock.py)
from tierii_core.errors import ConfigurationError

if TYPE_CHECKING:  # zoneinfo is imported when a time zone is named (not on every send)
    from zoneinfo import ZoneInfo

#: how often a wait wakes to update the countdown and to notice Ctrl-C (seconds)
POLL_SECONDS = 1.0
AT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def zone(name: str | None) -> ZoneInfo | timezone:
    """``--timezone`` (an IANA name such as America/Los_Angeles); the machine's zone when None."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local if isinstance(local, timezone) else timezone.utc  # type: ignore[return-value]
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"--timezone {name!r}: not a known time zone (IANA names such as America/Los_Angeles)"
        ) from None


def parse_at(text: str, tz: ZoneInfo | timezone) -> datetime:
    """``--at "2026-04-20 09:00"`` in ``tz``; a wall-clock time the zone skips is refused."""
    for fmt in AT_FORMATS:
        try:
            naive = datetime.strptime(text.strip(), fmt)
            break
        except ValueError:
            continue
    else:
        raise ConfigurationError(f'--at {text!r}: expected a date and time such as "2026-04-20 09:00"')
    moment = naive.replace(tzinfo=tz)
    if moment.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        raise ConfigurationError(f"--at {text!r}: that time does not exist in {tz} (the clocks skip it)")
    return moment


@frozen
class Window:
    """The hours of the day sending may happen, in a time zone; ``end < start`` spans midnight."""

    start: clock_time
    end: clock_time
    tz: ZoneInfo | timezone

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo | timezone) -> Window:
        try:
            first, second = (part.strip() for part in text.split("-"))
            start = datetime.strptime(first, "%H:%M").time()
            end = datetime.strptime(second, "%H:%M").time()
        except ValueError:
            raise ConfigurationError(f"--window {text!r}: expected HH:MM-HH:MM, e.g. 09:00-18:00") from None
        if start == end:
            raise ConfigurationError(f"--window {text!r}: the window is empty (start equals end)")
        return cls(start, end, tz)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if the window is open then, else when it next opens."""
        if self.contains(moment):
            return moment
        local = moment.astimezone(self.tz)
        day: date = local.date()
        for offset in range(3):
            opening = datetime.combine(day + timedelta(days=offset), self.start, tzinfo=self.tz)
            if opening > moment:
                return opening
        raise AssertionError("a window opens every day")  # pragma: no cover

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


@frozen
class Schedule:
    """When a send may start and the hours it may run."""

    at: datetime | None = None
    window: Window | None = None


def wait_until(
    moment: datetime,
    clock: Clock,
    stop: threading.Event,
    tick: Callable[[timedelta], None] = lambda remaining: None,
) -> bool:
    """Wait until ``moment``, calling ``tick(remaining)`` at each poll; False if stopped first."""
    while True:
        remaining = moment - clock.now()
        if remaining <= timedelta(0):
            return True
        tick(remaining)
        if clock.sleep(min(remaining.total_seconds(), POLL_SECONDS), stop):
            return False


def countdown(remaining: timedelta) -> str:
    """``2d 03:04:05``: what is left, to the second."""
    seconds = int(remaining.total_seconds() + 0.999)
    days, seconds = divmod(seconds, 86400)
    text = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{days}d {text}" if days else text
