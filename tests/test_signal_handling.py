"""Ctrl-C or SIGTERM may land while the main thread is in the middle of writing a log line.
The handler must not write then: Python's stderr refuses a write from inside a write of the
same thread ("RuntimeError: reentrant call"), which turned a clean stop into a traceback and
exit 1. It only sets the stop; a thread says "run.stopping"."""

from __future__ import annotations

import json
import subprocess
import sys

IN_THE_MIDDLE_OF_A_WRITE = """
import os, signal, sys, threading
from tierii_core.logs import configure_logging, get_logger
from tierii_core.pump import stop_on_signals

class Stderr:
    '''Refuses a write from inside a write of the same thread, as io.BufferedWriter does.'''
    def __init__(self, real):
        self.real, self.writing, self.signalled = real, set(), False
    def write(self, text):
        me = threading.get_ident()
        if me in self.writing:
            raise RuntimeError("reentrant call inside <stderr>")
        self.writing.add(me)
        try:
            if not self.signalled and "batch.line" in text:
                self.signalled = True
                os.kill(os.getpid(), signal.{sig})  # its handler runs before this write ends
                sum(range(1000))
            return self.real.write(text)
        finally:
            self.writing.discard(me)
    def flush(self):
        self.real.flush()
    def isatty(self):
        return False

configure_logging(json=True)
sys.stderr = Stderr(sys.stderr)
stop = threading.Event()
with stop_on_signals(stop):
    get_logger().info("batch.line")
print(stop.is_set())
"""


def run_with_signal_during_a_write(sig: str) -> subprocess.CompletedProcess:
    code = IN_THE_MIDDLE_OF_A_WRITE.replace("{sig}", sig)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_signal_during_a_log_write_stops_the_run_cleanly_and_says_so() -> None:
    for sig in ("SIGINT", "SIGTERM"):
        run = run_with_signal_during_a_write(sig)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        assert run.stdout == "True\n"  # the stop was set
        events = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
        assert [e["event"] for e in events] == ["batch.line", "run.stopping"]
        assert events[1]["signal"] == sig and events[1]["level"] == "warning"


AFTER_THE_RUN_STOPPED_ITSELF = """
import os, signal, threading
from tierii_core.pump import stop_on_signals

stop = threading.Event()
with stop_on_signals(stop):
    stop.set()  # the run stops by itself (a circuit breaker, a provider that crashed)
    os.kill(os.getpid(), signal.SIGINT)  # the user's first Ctrl-C: finish, do not exit at once
    sum(range(1000))
print("finished")
"""


def test_the_first_ctrl_c_after_the_run_stopped_itself_does_not_exit_at_once() -> None:
    """Only a second signal exits at once (exit 3, nothing recorded after it); CI saw a first
    Ctrl-C end the test process when the stop had been set some other way."""
    run = subprocess.run(
        [sys.executable, "-c", AFTER_THE_RUN_STOPPED_ITSELF], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.endswith("finished\n"), run.stderr
