"""Postfix's ``smtp-sink`` on 127.0.0.1 for benchmarks: a fast C SMTP server that keeps nothing.

It reports a running count of messages (``-c``) to a file, so each run can check that every
message arrived. smtp-sink cannot pick a free port itself: one is found by binding port 0,
and the start is retried on another if the port was taken in between.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

SMTP_SINK = Path("/usr/sbin/smtp-sink")
_COUNT = re.compile(rb"mesg=(\d+)")


class SmtpSink:
    def __init__(self, workdir: Path) -> None:
        self.counter = workdir / "smtp-sink.counter"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmtpSink:
        if not SMTP_SINK.exists():
            raise SystemExit(f"{SMTP_SINK} is missing: apt-get install postfix (the daemon is never started)")
        for _attempt in range(5):
            self.port = _free_port()
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            with self.counter.open("wb") as out:
                self.process = subprocess.Popen(
                    [str(SMTP_SINK), *user, "-c", f"127.0.0.1:{self.port}", "256"], stdout=out
                )
            if self._ready():
                return self
        raise SystemExit("smtp-sink did not start")

    def _ready(self, deadline: float = 30.0) -> bool:
        """smtp-sink says nothing when it listens: wait for its 220 greeting (or its death)."""
        assert self.process is not None
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=deadline) as probe:
                    return probe.recv(512).startswith(b"220")
            except ConnectionRefusedError:
                try:
                    self.process.wait(timeout=0.02)
                    return False  # it died: the port was taken
                except subprocess.TimeoutExpired:
                    continue
        return False

    def messages(self) -> int:
        """Messages received so far (the last counter smtp-sink wrote)."""
        counts = _COUNT.findall(self.counter.read_bytes())
        return int(counts[-1]) if counts else 0

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
