"""Moving batches through the delivery workers: ``--concurrency`` of them, at most two batches
each in flight (flat memory), the signals that stop it, and the watcher that interrupts a
provider stuck when it should stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import attrs
from attrs import frozen

from tierii_core.delivery import BatchStopped, CircuitBreaker, Delivery, ProviderSlot
from tierii_core.errors import RunStopped
from tierii_core.logs import get_logger
from tierii_core.models import Message, Outcome

log = get_logger()

#: seconds after the first Ctrl-C before providers still sending are interrupted
INTERRUPT_AFTER = 3.0


@frozen
class Batch:
    """One batch's worth of records: messages to deliver, and outcomes decided without a provider."""

    messages: list[Message]
    decided: list[tuple[str, str, Outcome]]  # (journal key, origin, outcome)
    skipped: int = 0  # already done in an earlier run
    unknown: list[Outcome] = attrs.Factory(list)  # unknown since an earlier run, not resent


def pump(
    batches: Iterable[Batch],
    *,
    delivery: Delivery,
    breaker: CircuitBreaker,
    stop: threading.Event,
    concurrency: int,
    batch_delay: float,
    record_decided: Callable[[Batch], None],
    finished: Callable[[Batch, Sequence[Outcome]], None],
) -> None:
    """Deliver every batch; ``finished(batch, outcomes)`` for each, in the order they end.

    Raises the reason the run must stop (the breaker opened, no provider left) once the
    batches in flight have ended.
    """
    in_flight: dict[Future, Batch] = {}
    failure: BaseException | None = None
    first = True

    def collect(done: set[Future]) -> None:
        nonlocal failure
        for future in done:
            batch = in_flight.pop(future)
            try:
                outcomes = future.result()
            except BatchStopped as exc:
                outcomes, failure = exc.outcomes, exc.reason
                stop.set()
            finished(batch, outcomes)
        try:
            breaker.check()
        except RunStopped as exc:
            failure = failure or exc
            stop.set()

    with ThreadPoolExecutor(concurrency, thread_name_prefix="tierii-send") as pool:
        for batch in batches:
            if batch.decided:
                record_decided(batch)
            if stop.is_set():
                break
            if not batch.messages:
                finished(batch, [])
                continue
            if not first and batch_delay and stop.wait(batch_delay):
                break
            first = False
            in_flight[pool.submit(delivery.deliver, batch.messages)] = batch
            while len(in_flight) >= concurrency * 2:
                collect(wait(in_flight, return_when=FIRST_COMPLETED).done)
            done = {f for f in in_flight if f.done()}
            if done:
                collect(done)
        while in_flight:
            collect(wait(in_flight, return_when=FIRST_COMPLETED).done)
    if failure is not None:
        raise failure


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: finish the batches in flight, record them, exit 3. Second: exit now.

    Exiting at once is safe: each journal transaction is atomic, and whatever was handed to
    a provider is ``sending`` in the journal, which the next run reports as unknown.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []
    noticed = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if received:  # the second signal; a stop the run set itself (a breaker...) is not one
            os._exit(3)
        received.append(signum)
        stop.set()
        noticed.set()

    def announce() -> None:
        noticed.wait()
        if received:
            name = signal.Signals(received[0]).name
            log.warning("run.stopping", signal=name, hint="again to exit at once")

    # the handler only sets events: it may interrupt the main thread in the middle of writing
    # a log line, and writing to stderr from inside that write raises RuntimeError (reentrant
    # call); this thread says "stopping" instead
    announcer = threading.Thread(target=announce, name="tierii-signal-announcer", daemon=True)
    announcer.start()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        noticed.set()
        announcer.join()


@contextlib.contextmanager
def interrupting_when_stuck(stop: threading.Event, slots: Sequence[ProviderSlot]) -> Iterator[None]:
    """Ctrl-C lets the batches in flight finish; a provider still stuck on a silent server
    :data:`INTERRUPT_AFTER` seconds later is interrupted (in flight -> unknown), so the run
    ends promptly. A thread waits for that: a signal handler must not start one."""
    ended = threading.Event()

    def watch() -> None:
        stop.wait()
        if not ended.is_set() and not ended.wait(INTERRUPT_AFTER):
            _interrupt(slots)

    watcher = threading.Thread(target=watch, name="tierii-interrupter", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        ended.set()
        stop.set()  # wakes the watcher, which sees the run has ended
        watcher.join()


def _interrupt(slots: Sequence[ProviderSlot]) -> None:
    for slot in slots:
        log.warning("provider.interrupting", provider=slot.name, after=INTERRUPT_AFTER)
        try:
            slot.provider.interrupt()
        except Exception as exc:  # a provider's bug must not keep the run from ending
            log.error("provider.interrupt_failed", provider=slot.name, reason=str(exc))
