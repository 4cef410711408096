"""How a run keeps its schedule (:mod:`~tierii_core.schedule` says what it is): it waits for
``--at`` with a countdown, and starts each provider call inside the ``--window``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

from tierii_core.logs import get_logger
from tierii_core.models import Message, Outcome, Status
from tierii_core.schedule import Clock, Schedule, countdown, wait_until

log = get_logger()


class Deliverer(Protocol):
    def deliver(self, messages: Sequence[Message]) -> list[Outcome]: ...


class Timetable:
    """One run's ``--at`` and ``--window``, on its clock."""

    def __init__(self, schedule: Schedule | None, clock: Clock, campaign: str) -> None:
        self.at = schedule.at if schedule is not None else None
        self.window = schedule.window if schedule is not None else None
        self.clock = clock
        self.campaign = campaign
        self._window_lock = threading.Lock()

    def wait_for_start(self, stop: threading.Event) -> bool:
        """``--at``: wait for the moment, showing the countdown; False if Ctrl-C cancelled it."""
        if self.at is None:
            return True
        log.info("schedule.waiting", campaign=self.campaign, at=self.at.isoformat())
        started = wait_until(self.at, self.clock, stop, _countdown_display("starts in"))
        _end_countdown_display()
        if started:
            log.info("schedule.started", campaign=self.campaign, at=self.at.isoformat())
        return started

    def windowed(self, delivery: Deliverer, stop: threading.Event) -> Deliverer:
        """``delivery`` itself, or (with ``--window``) one whose every call starts inside it."""
        if self.window is None:
            return delivery
        return _Windowed(delivery, lambda: self._in_window(stop))

    def _in_window(self, stop: threading.Event) -> bool:
        """True at once inside the window; outside, wait for it to open (False if stopped).
        Called by each worker before each provider call; one waits, the others queue behind it."""
        with self._window_lock:
            return self._wait_for_window(stop)

    def _wait_for_window(self, stop: threading.Event) -> bool:
        window = self.window
        assert window is not None
        now = self.clock.now()
        if window.contains(now):
            return True
        opens = window.next_open(now)
        log.info("window.paused", campaign=self.campaign, window=str(window), until=opens.isoformat())
        resumed = wait_until(opens, self.clock, stop, _countdown_display("outside the window; resumes in"))
        _end_countdown_display()
        if resumed:
            log.info("window.resumed", campaign=self.campaign, window=str(window))
        return resumed


class _Windowed:
    """A delivery whose every provider call starts inside the sending window."""

    def __init__(self, delivery: Deliverer, inside: Callable[[], bool]) -> None:
        self.delivery = delivery
        self.inside = inside

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if not self.inside():  # stopped while the window was closed: not sent, the next run sends them
            reason = "not sent: stopped while outside the sending window"
            return [Outcome(m.contact.email, Status.PENDING, reason=reason) for m in messages]
        return self.delivery.deliver(messages)


def _countdown_display(what: str) -> Callable[[timedelta], None]:
    """On a terminal, one line rewritten each second: ``starts in 01:02:03``."""

    def show(remaining: timedelta) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{what} {countdown(remaining)} (Ctrl-C cancels) ")
            sys.stderr.flush()

    return show


def _end_countdown_display() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")
