"""A sending process's lease: how the others tell its claims from a dead process's leftovers.

Each process that claims recipients has an owner name (``host:pid:random``) and a row in the
``owners`` table with the moment its lease expires. A heartbeat thread renews it every few
seconds while the campaign is open, and every claim renews it in the claim's own transaction.
A recipient left ``sending`` by an owner whose lease expired is ``unknown`` (the provider may
have accepted it); one whose owner is alive is in flight, and left alone.

A process whose lease expired (stalled longer than the lease: the machine slept, the database
was out of reach) may have had its rows declared unknown by another process; its next claim
finds the lease gone and stops the run (exit 3) instead of sending more.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tierii_core.logs import get_logger

if TYPE_CHECKING:
    from tierii_core.journal import StateJournal

log = get_logger()


def owner_name() -> str:
    """``host:pid:random``: unique per process, and readable in ``tierii status``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def died_here(owner: str) -> bool:
    """Whether ``owner`` was a process of this machine that no longer exists: its lease need
    not run out (a run killed with SIGKILL and started again at once finds its leftovers
    unknown at once). Owners of other machines, and live or unreadable ones, are not."""
    parts = owner.rsplit(":", 2)  # host:pid:random
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


class Lease:
    """One journal's owner row: started with the campaign (or the first claim), renewed by a
    heartbeat every ``heartbeat`` seconds (None: no thread; claims and :meth:`renew` only),
    valid ``seconds`` after each renewal by ``clock``; removed on a clean close."""

    def __init__(
        self, journal: StateJournal, seconds: float, heartbeat: float | None, clock: Callable[[], float]
    ) -> None:
        self.journal = journal
        self.seconds = seconds
        self.heartbeat = heartbeat
        self.clock = clock
        self.owner = owner_name()
        self.started = False
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """The owner row (once), and the heartbeat."""
        if self.started:
            return
        now = self.clock()
        self.journal._write(
            [
                (
                    "INSERT INTO owners VALUES (?, ?, ?) ON CONFLICT(owner) DO UPDATE SET "
                    "expires_at = excluded.expires_at",
                    (self.owner, now + self.seconds, now),
                )
            ]
        )
        self.started = True
        if self.heartbeat:
            self._thread = threading.Thread(target=self._beat, name="tierii-lease", daemon=True)
            self._thread.start()

    def renew_in_transaction(self) -> bool:
        """(In the caller's transaction.) Extend the lease if it still holds; False if it expired."""
        if self.lost:
            return False
        now = self.clock()
        cursor = self.journal._db.execute(
            "UPDATE owners SET expires_at = ? WHERE owner = ? AND expires_at > ?",
            (now + self.seconds, self.owner, now),
        )
        if cursor.rowcount != 1:
            self.lost = True
        return not self.lost

    def renew(self) -> bool:
        def work() -> bool:
            with self.journal._state.transaction():
                return self.renew_in_transaction()

        return self.journal._run(work)

    def lost_reason(self) -> str:
        return (
            f"this run's claim on its recipients (owner {self.owner}) expired: it was out of touch "
            f"with the state store for longer than the {self.seconds:.0f} s lease, and another process "
            "may have reported its messages in flight as unknown; nothing more is sent. Re-run the same "
            "command"
        )

    def _beat(self) -> None:
        assert self.heartbeat is not None
        while not self._stop.wait(self.heartbeat):
            try:
                if not self.renew():
                    log.error("lease.lost", owner=self.owner, reason=self.lost_reason())
                    return
            except Exception as exc:  # the next claim finds out for sure; keep beating meanwhile
                log.warning("lease.renew_failed", owner=self.owner, reason=str(exc))

    def stop(self) -> None:
        """Stop the heartbeat and remove the owner row: anything still ``sending`` under it is
        now a dead owner's (the next run reports it unknown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if not self.started:
            return
        self.started = False
        try:
            self.journal._write([("DELETE FROM owners WHERE owner = ?", (self.owner,))])
        except Exception as exc:  # closing: the lease expires by itself
            log.warning("lease.release_failed", owner=self.owner, reason=str(exc))
