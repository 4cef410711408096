"""The ``connection_slots`` seam: with slots shared beyond the process (tierii-celery's workers),
a connection opens only with a slot, gives it back when it closes, and closes when its slice is
done; without them (the default) connections stay open between batches as before."""

from __future__ import annotations

import threading

import pytest

from tierii_core.models import Status
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider

pytestmark = pytest.mark.network


class CountingSlots:
    """Slots of this process only, counting who holds one; ``cap`` of them."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held: set[int] = set()
        self.most = 0
        self.granted = 0
        self._next = 0
        self._free = threading.Condition()

    def acquire(self, stopping):  # type: ignore[no-untyped-def]
        with self._free:
            while len(self.held) >= self.cap:
                if stopping():
                    return None
                self._free.wait(0.05)
            self._next += 1
            self.held.add(self._next)
            self.granted += 1
            self.most = max(self.most, len(self.held))
            return self._next

    def release(self, token):  # type: ignore[no-untyped-def]
        with self._free:
            self.held.remove(token)
            self._free.notify_all()


def test_every_connection_holds_a_slot_while_open_and_gives_it_back(scripted_server, settings_for) -> None:
    server = scripted_server()
    slots = CountingSlots(cap=2)
    messages = [make_message(f"s{i}@example.com") for i in range(40)]
    provider = SmtpProvider(settings_for(server, connections=4), None)
    provider.connection_slots = slots
    with provider:
        first = provider.send(messages[:20])
        assert slots.held == set()  # every slice done: its connection closed, its slot back
        second = provider.send(messages[20:])
    assert [o.status for o in first + second] == [Status.SENT] * 40
    assert slots.most == 2  # 4 connections wanted, 2 slots: never more at once
    assert server.connections == slots.granted  # no connection without a slot
    assert slots.held == set()


def test_without_slots_connections_stay_open_between_batches(scripted_server, settings_for) -> None:
    server = scripted_server()
    messages = [make_message(f"k{i}@example.com") for i in range(8)]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        provider.send(messages[:4])
        provider.send(messages[4:])
    assert server.connections == 1
