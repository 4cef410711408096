"""tierii_smtp.drive: one thread carries several connections' transactions.

Jobs here wait on socket pairs instead of SMTP servers, so each test says exactly which job
can go on when: a job that waits must never hold up one that can go on (one thread carries
every connection of a batch), a wait times out on its own, a failing job does not stop the
others, and a connection being set up (waiting for a shared slot) does not block the rest.
"""

from __future__ import annotations

import socket
from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from tierii_smtp.drive import drive
from tierii_smtp.transaction import SETUP


def _session(timeout: float = 30.0) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(timeout=timeout))


@pytest.fixture
def pairs():
    made: list[tuple[socket.socket, socket.socket]] = []

    def make() -> tuple[socket.socket, socket.socket]:
        made.append(socket.socketpair())
        return made[-1]

    yield make
    for one, other in made:
        one.close()
        other.close()


def test_a_job_that_waits_does_not_hold_up_one_that_can_go_on(pairs) -> None:
    a_end, a_peer = pairs()
    b_end, b_peer = pairs()
    b_peer.send(b"x")  # b's reply is there; a's comes only once b has run
    order: list[str] = []

    def job_a():
        timed_out = yield a_end.fileno()
        order.append("a")
        return ("a", timed_out, a_end.recv(10))

    def job_b():
        timed_out = yield b_end.fileno()
        order.append("b")
        a_peer.send(b"y")  # what a waits for
        return ("b", timed_out, b_end.recv(10))

    results = drive([(_session(), job_a()), (_session(), job_b())])
    assert order == ["b", "a"]
    assert results == [("a", None, b"y"), ("b", None, b"x")]  # in the order of the jobs


def test_a_wait_with_no_reply_times_out_alone(pairs) -> None:
    quiet, _ = pairs()
    talking, peer = pairs()
    peer.send(b"x")

    def waits(fd):
        return (yield fd)

    results = drive([(_session(timeout=0.05), waits(quiet.fileno())), (_session(), waits(talking.fileno()))])
    assert results == [True, None]


def test_a_failing_job_does_not_stop_the_others_and_is_raised_at_the_end(pairs) -> None:
    end, peer = pairs()
    other_end, other_peer = pairs()
    peer.send(b"x")
    ended: list[str] = []
    sessions = [_session(), _session()]
    names = {id(sessions[0]): "failing", id(sessions[1]): "fine"}

    def failing():
        yield end.fileno()
        other_peer.send(b"y")  # fine's reply comes after failing has been resumed
        raise ValueError("broken")

    def fine():
        yield other_end.fileno()
        return "done"

    with pytest.raises(ValueError, match="broken"):
        drive([(sessions[0], failing()), (sessions[1], fine())], ended=lambda s: ended.append(names[id(s)]))
    assert sorted(ended) == ["failing", "fine"]


def test_a_connection_being_set_up_does_not_hold_up_the_others(pairs) -> None:
    """A session waiting for a shared connection slot: another job, which frees it, goes on."""
    slot: Future[BaseException | None] = Future()
    end, peer = pairs()
    peer.send(b"x")
    waiting, connecting = _session(), _session()

    def needs_connection():
        problem = yield SETUP
        return ("connected", problem)

    def frees_the_slot():
        yield end.fileno()
        slot.set_result(None)  # as a slice that ends gives its slot back
        return "freed"

    def connect(session):
        assert session is connecting
        return slot

    results = drive([(connecting, needs_connection()), (waiting, frees_the_slot())], connect=connect)
    assert results == [("connected", None), "freed"]


def test_why_connecting_failed_is_handed_to_the_job() -> None:
    failure = ConnectionRefusedError("refused")

    def connect(session):
        done: Future[BaseException | None] = Future()
        done.set_result(failure)
        return done

    def job():
        return (yield SETUP)

    assert drive([(_session(), job())], connect=connect) == [failure]
