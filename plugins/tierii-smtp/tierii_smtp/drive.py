"""One thread carries the transactions of several connections at once.

A transaction (:mod:`tierii_smtp.transaction`) is a generator that yields what it waits for:
:data:`~tierii_smtp.transaction.SETUP` (its session must connect) or a socket's file
descriptor (a reply has not arrived yet). :func:`drive` runs a batch's transactions, one per
connection, in the calling thread: it resumes each when its socket is readable or its wait has
timed out, and connects the sessions that need it in parallel (a connection to a distant
server takes a few round trips). With one thread per connection instead, each message cost
four hand-offs of the GIL between threads, which took more CPU than the mail itself.
"""

from __future__ import annotations

import os
import select
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from tierii_smtp.session import Session
from tierii_smtp.transaction import SETUP, Resume, Wait

R = TypeVar("R")

#: a transaction: yields SETUP or a file descriptor; is resumed after SETUP with the exception
#: that connecting raised (or None), after a wait with True when it timed out; returns its result
Job = Generator[Wait, Resume, R]

#: starts connecting a session (``setup``) and returns the future of the exception it raised
#: (or None); the pool runs it on a thread, so that one connection waiting for a shared slot
#: (tierii-celery) never holds up the transactions of the others, which would free it
Connect = Callable[[Session], "Future[BaseException | None]"]


def connect_here(session: Session) -> Future[BaseException | None]:
    """A :data:`Connect` that sets the session up at once, in this thread."""
    done: Future[BaseException | None] = Future()
    done.set_result(setup(session))
    return done


def setup(session: Session) -> BaseException | None:
    """Set the session up: the exception it raised (SetupFailed), or None."""
    try:
        session.setup()
    except Exception as exc:  # handed to the transaction that asked for it
        return exc
    return None


class _Driver:
    """The state of one :func:`drive`: which jobs can go on, which wait for what."""

    def __init__(
        self, jobs: Sequence[tuple[Session, Job[Any]]], connect: Connect, ended: Callable[[Session], None]
    ) -> None:
        self.jobs = jobs
        self.connect = connect
        self.ended = ended
        self.results: list[Any] = [None] * len(jobs)
        self.failure: BaseException | None = None
        self.resume: list[Any] = [None] * len(jobs)  # None, True (timed out), why connecting failed
        self.runnable = deque(range(len(jobs)))
        self.waiting: dict[int, tuple[int, float]] = {}  # job -> (fd, deadline)
        self.connecting: dict[int, Future[BaseException | None]] = {}
        self.poller = select.poll()
        self._wake: tuple[int, int] | None = None  # a pipe: a connection finished setting up

    def run(self) -> list[Any]:
        try:
            while self.runnable or self.waiting or self.connecting:
                while self.runnable:
                    self._step(self.runnable.popleft())
                if self.waiting or self.connecting:
                    self._wait()
        finally:
            if self._wake is not None:
                os.close(self._wake[0])
                os.close(self._wake[1])
        if self.failure is not None:
            raise self.failure
        return self.results

    def _step(self, index: int) -> None:
        """Resume a job until it waits or ends."""
        session, job = self.jobs[index]
        value, self.resume[index] = self.resume[index], None
        try:
            need = job.send(value)
        except StopIteration as done:
            self.results[index] = done.value
            self.ended(session)
            return
        except BaseException as exc:  # raised once the others have ended
            self.failure = self.failure or exc
            self.ended(session)
            return
        if need == SETUP:
            future = self.connect(session)
            if future.done():
                self.resume[index] = future.result()
                self.runnable.append(index)
                return
            self.connecting[index] = future
            wake = self._pipe()  # made here, in the driving thread, before a setup can end
            future.add_done_callback(lambda _: os.write(wake[1], b"!"))
        else:
            self.poller.register(need, select.POLLIN)
            self.waiting[index] = (need, time.monotonic() + session.settings.timeout)

    def _pipe(self) -> tuple[int, int]:
        if self._wake is None:
            self._wake = os.pipe()
            self.poller.register(self._wake[0], select.POLLIN)
        return self._wake

    def _wait(self) -> None:
        """Until a socket is readable, a wait has timed out or a connection is set up."""
        soonest = min((deadline for _, deadline in self.waiting.values()), default=None)
        timeout = None if soonest is None else max(0.0, soonest - time.monotonic()) * 1000
        ready = {fd for fd, _ in self.poller.poll(timeout)}
        if self._wake is not None and self._wake[0] in ready:
            os.read(self._wake[0], 4096)
        for index, future in list(self.connecting.items()):
            if future.done():
                del self.connecting[index]
                self.resume[index] = future.result()
                self.runnable.append(index)
        now = time.monotonic()
        for index, (fd, deadline) in list(self.waiting.items()):
            if fd in ready or deadline <= now:
                del self.waiting[index]
                self.poller.unregister(fd)
                self.resume[index] = None if fd in ready else True
                self.runnable.append(index)


def drive(
    jobs: Sequence[tuple[Session, Job[R]]],
    connect: Connect = connect_here,
    ended: Callable[[Session], None] = lambda session: None,
) -> list[R]:
    """Each job's result, in order, once every job has ended; ``ended(session)`` as each job
    ends (the pool hands its session back at once). A job that raises does not stop the
    others; the first such exception is raised when all have ended."""
    return _Driver(jobs, connect, ended).run()
