"""Postfix's ``smtp-sink`` on 127.0.0.1, for volume tests and benchmarks (yours and ours).

A fast C SMTP server that keeps nothing unless asked: ``dump=True`` writes every transaction
to a file (:meth:`SmtpSinkProcess.messages` parses them), and it always reports a running
count (:meth:`SmtpSinkProcess.count`). smtp-sink picks no port itself: a free one is found by
binding port 0, and the start is retried on another if it was taken in between. It says
nothing when it is ready, so readiness is a connection that gets the 220 greeting.

    with SmtpSinkProcess() as sink:          # Debian: apt-get install postfix (never started)
        ... send to 127.0.0.1:sink.port ...
        assert sink.count() == 1000
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

SMTP_SINK = Path("/usr/sbin/smtp-sink")
START_TIMEOUT = 30.0  # a bound on a hang, never a pause
_COUNT = re.compile(rb"mesg=(\d+)")


class SmtpSinkProcess:
    def __init__(self, *, dump: bool = True) -> None:
        # smtp-sink drops root privileges before it writes: its directory must be reachable
        # by anyone, which pytest's tmp_path (mode 0700 above) is not
        self.workdir = Path(tempfile.mkdtemp(prefix="tierii-smtp-sink-"))
        self.workdir.chmod(0o777)
        self.dump = self.workdir / "dump" if dump else None
        self.counter = self.workdir / "counter"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SmtpSinkProcess:
        if not SMTP_SINK.exists():
            raise RuntimeError(f"{SMTP_SINK} is missing: apt-get install postfix (never started as a daemon)")
        for _attempt in range(5):
            self.port = _free_port()
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            dump = ["-D", str(self.dump)] if self.dump is not None else []
            with self.counter.open("wb") as counter:
                self.process = subprocess.Popen(
                    [str(SMTP_SINK), *user, "-c", *dump, f"127.0.0.1:{self.port}", "256"],
                    stdout=counter,
                    stderr=subprocess.PIPE,
                )
            if self._wait_until_ready():
                return self
        raise RuntimeError(f"smtp-sink did not start: {self._stderr()}")

    def _wait_until_ready(self, deadline: float = START_TIMEOUT) -> bool:
        assert self.process is not None
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=deadline) as probe:
                    return probe.recv(512).startswith(b"220")
            except ConnectionRefusedError:
                try:  # not listening yet: wait for the process to die, briefly
                    self.process.wait(timeout=0.02)
                    return False  # it died: the port was taken; try another
                except subprocess.TimeoutExpired:
                    continue
        return False

    def _stderr(self) -> str:
        if self.process is None or self.process.poll() is None or self.process.stderr is None:
            return "(running)"
        return self.process.stderr.read().decode(errors="replace")

    def check_alive(self) -> None:
        """Fail loudly if smtp-sink died (it exits when it cannot write its dump)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"smtp-sink exited with {self.process.returncode}: {self._stderr()}")

    def count(self) -> int:
        """Messages received so far (the last running count smtp-sink wrote)."""
        counts = _COUNT.findall(self.counter.read_bytes())
        return int(counts[-1]) if counts else 0

    def messages(self) -> list[EmailMessage]:
        """Every transaction dumped so far, parsed: smtp-sink's ``X-Rcpt-Args`` header is the
        envelope recipient, followed by the message's own headers and body."""
        if self.dump is None:
            raise RuntimeError("started with dump=False: only count() is known")
        self.check_alive()
        if not self.dump.exists():
            return []
        chunks = self.dump.read_bytes().split(b"X-Client-Addr: ")[1:]
        return [email.message_from_bytes(b"X-Client-Addr: " + c, policy=email.policy.default) for c in chunks]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(START_TIMEOUT)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SmtpSinkProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
