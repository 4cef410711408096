"""A cluster on 127.0.0.1 for the tests: an SMTP server that counts what each recipient got,
workers (`tierii worker`) and the coordinator (`tierii send --executor celery`) as separate
processes, sharing a redis-server and a state store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tierii_celery.testing import free_port

TEMPLATE = (
    "Subject: Hello {{first_name}}\nFrom: Shop <shop@example.com>\n\nHi {{first_name}}, number {{n}}.\n"
)


class CountingHandler:
    """Counts the messages each recipient receives; wakes whoever waits for a total."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.total = 0
        self.arrivals: list[float] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt.lower()] += 1
                self.total += 1
                self.arrivals.append(time.monotonic())
            self.changed.notify_all()
        return "250 2.0.0 Ok: queued"

    def wait_for(self, total: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.total >= total, timeout)


class SmtpCounter:
    def __init__(self) -> None:
        self.handler = CountingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpCounter:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def write_contacts(path: Path, count: int) -> list[str]:
    emails = [f"user{n:06d}@example.com" for n in range(count)]
    lines = ["email,first_name,n"] + [f"{e},Name{n},{n}" for n, e in enumerate(emails)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


class Cluster:
    """The environment every process shares, and the processes themselves."""

    def __init__(self, work: Path, broker_url: str, smtp_port: int, state: dict[str, str]) -> None:
        self.work = work
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TIERII_") or k.startswith("TIERII_REQUIRE")
        }
        self.env.update(
            TIERII_CELERY_BROKER_URL=broker_url,
            TIERII_CELERY_VISIBILITY_TIMEOUT="8",
            TIERII_CELERY_RESTORE_INTERVAL="1",
            TIERII_CELERY_REQUEUE_AFTER="6",
            TIERII_CELERY_GIVE_UP_AFTER="5",
            TIERII_STATE_LEASE="3",
            TIERII_PROVIDER="smtp",
            TIERII_SMTP_HOST="127.0.0.1",
            TIERII_SMTP_PORT=str(smtp_port),
            TIERII_SMTP_SECURITY="none",
            TIERII_TRANSACTIONAL="true",
            TIERII_BATCH_SIZE="20",
            TIERII_MAX_ATTEMPTS="3",
            TIERII_RETRY_DELAY="0.2",
            PYTHONUNBUFFERED="1",
            # credentials come from the settings here, even where a keyring plugin is installed too
            TIERII_DISABLE_PLUGINS="tierii-keyring",
        )
        self.env.update(state)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)

    def tierii(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from tierii_core.cli import main; main()", *args]

    def start_worker(self, concurrency: int = 4) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            self.tierii("worker", f"--concurrency={concurrency}"),
            cwd=self.work,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def send(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / "coordinator.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            self.tierii("send", *args, "--executor", "celery", "--log-json"),
            cwd=self.work,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return process

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.tierii(*args), cwd=self.work, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait()

    def log_tail(self) -> str:
        parts = []
        for path in sorted(self.logs.iterdir()):
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(f"== {path.name}\n{text[-3000:]}")
        return "\n".join(parts)


def status(cluster: Cluster) -> dict:
    """``tierii status --json --list all`` of the latest campaign."""
    result = cluster.run("status", "--json", "--list", "all")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class SessionCounter:
    """An aiosmtpd server that counts the connections open at once (and the most ever open)
    and what each recipient got."""

    def __init__(self) -> None:
        from aiosmtpd.smtp import SMTP

        counter = self
        self.handler = CountingHandler()
        self.open = 0
        self.peak = 0
        self.sessions = 0
        self._lock = threading.Lock()

        class CountedSMTP(SMTP):
            def connection_made(self, transport: Any) -> None:
                counter._opened()
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                counter._closed()
                super().connection_lost(error)

        class CountingController(Controller):
            def factory(self) -> Any:
                return CountedSMTP(self.handler, **self.SMTP_kwargs)

        self.port = free_port()
        self.controller = CountingController(self.handler, hostname="127.0.0.1", port=self.port)

    def _opened(self) -> None:
        with self._lock:
            self.open += 1
            self.sessions += 1
            self.peak = max(self.peak, self.open)

    def _closed(self) -> None:
        with self._lock:
            self.open -= 1

    def __enter__(self) -> SessionCounter:
        self.controller.start()
        with self._lock:  # the controller's own trial connection at start is not ours
            self.peak = self.open
            self.sessions = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
