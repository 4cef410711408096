"""A fixed set of SMTP sessions shared by every ``send()`` call, and the threads that use them.

Sessions connect lazily and stay open between batches; a session whose connection broke
reconnects for its next message. Each session is used by one thread at a time; a batch is
cut into one slice per session so the slices go out in parallel, one thread each (threads
wait on the network with the GIL released, and smtplib costs less CPU per message than an
asyncio client: see docs/providers/smtp.md). With connection slots shared between processes
(``hand_back``), a connection is closed when its slice is done, so that an idle process never
keeps a slot another one is waiting for.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

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
        """A session for this thread alone; waits while all are busy."""
        session = self._idle.get()
        try:
            yield session
        finally:
            if self.hand_back:
                session.quit()
            self._idle.put(session)

    def map(self, job: Callable[[Session, Sequence[T]], R], items: Sequence[T]) -> list[R]:
        """``job(session, slice)`` for one slice of ``items`` per session, in parallel."""
        slices = split(items, self.size)

        def run(part: Sequence[T]) -> R:
            with self.session() as session:
                return job(session, part)

        if len(slices) == 1:  # no hand-off to another thread for a single slice
            return [run(slices[0])]
        return list(self._threads.map(run, slices))

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
