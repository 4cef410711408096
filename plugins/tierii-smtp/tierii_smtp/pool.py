"""A fixed set of SMTP sessions shared by every ``send()`` call.

Sessions connect lazily and stay open between batches; a session whose connection broke
reconnects for its next message. Each session is used by one ``send()`` at a time; a batch is
cut into one slice per session and the slices go out at once, all carried by the calling
thread (:mod:`tierii_smtp.drive`); only connecting several sessions uses threads. With
connection slots shared between processes (``hand_back``), a connection is closed when its
slice is done, so that an idle process never keeps a slot another one is waiting for.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from tierii_smtp.drive import Job, drive, setup
from tierii_smtp.session import Session

T = TypeVar("T")
R = TypeVar("R")


class SessionPool:
    """``size`` sessions; :meth:`map` runs a job per slice, each with a session of its own."""

    def __init__(self, make_session: Callable[[], Session], size: int, *, hand_back: bool = False) -> None:
        self.size = size
        #: close each connection when its job is done (its shared slot goes back to the others)
        self.hand_back = hand_back
        self._sessions = [make_session() for _ in range(size)]
        self._idle: queue.LifoQueue[Session] = queue.LifoQueue()  # last used first: still connected
        for session in self._sessions:
            self._idle.put(session)
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tierii-smtp")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for the caller alone; waits while all are busy."""
        session = self._idle.get()
        try:
            yield session
        finally:
            self._give_back(session)

    def map(self, job: Callable[[Session, Sequence[T]], Job[R]], items: Sequence[T]) -> list[R]:
        """``job(session, slice)`` for one slice of ``items`` per idle session, all at once.

        Waits for one session, then takes those idle now (never waiting for more while holding
        some: two ``send()`` calls at once must not each hold half and wait for the rest)."""
        if not items:
            return []
        sessions = [self._idle.get()]
        with contextlib.suppress(queue.Empty):
            while len(sessions) < min(self.size, len(items)):
                sessions.append(self._idle.get_nowait())
        held = {id(session): session for session in sessions}

        def ended(session: Session) -> None:  # its slice is done: free for another send()
            self._give_back(held.pop(id(session)))

        try:
            slices = split(items, len(sessions))
            jobs = [(s, job(s, part)) for s, part in zip(sessions, slices, strict=True)]
            return drive(jobs, self._connect, ended)
        finally:
            for session in held.values():
                self._give_back(session)

    def _give_back(self, session: Session) -> None:
        if self.hand_back:
            session.quit()
        self._idle.put(session)

    def _connect(self, session: Session) -> Future[BaseException | None]:
        return self._threads.submit(setup, session)

    def abort(self) -> None:
        """From another thread: unblock every session waiting on the network."""
        for session in self._sessions:
            session.abort()

    def close(self) -> None:
        """Wait for running jobs, then QUIT every connection."""
        self._threads.shutdown(wait=True)
        for session in self._sessions:
            session.quit()


def split(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """At most ``parts`` contiguous slices of nearly equal length (none empty)."""
    count = min(parts, len(items))
    if count <= 1:
        return [items] if items else []
    size, extra = divmod(len(items), count)
    slices, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        slices.append(items[start:end])
        start = end
    return slices
