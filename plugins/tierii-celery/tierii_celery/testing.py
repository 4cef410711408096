"""A real redis-server of its own for tests: a free port on 127.0.0.1, a password, its files in
a directory of its own; nothing persisted (a restart loses the queue: the worst case)."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any


def redis_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``start()`` returns once the server says it accepts connections (its own log line);
    ``restart()`` stops it and starts it again on the same port (the queue is lost)."""

    def __init__(self, directory: Path, binary: str) -> None:
        self.directory = directory
        self.binary = binary
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(
            f"bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\ndir {self.directory}\n"
            'save ""\nappendonly no\nprotected-mode yes\nlogfile ""\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        self.process = subprocess.Popen(
            [self.binary, str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        seen = []
        for line in self.process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                return
        raise RuntimeError("redis-server did not start:\n" + "".join(seen[-20:]))

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def reserve_at_one_instant(url: str, count: int, queue: Any) -> None:
    """(In a child process.) ``count`` single-token reservations on the bucket "shared"
    (10/s, burst 5), all at the time 1000.0; the waits go to ``queue``."""
    import redis

    from tierii_celery.bucket import RedisTokenBucket

    client = redis.Redis.from_url(url)
    bucket = RedisTokenBucket(client, "shared", rate=10.0, burst=5, clock=lambda: 1000.0)
    queue.put([bucket.reserve(1) for _ in range(count)])
    client.close()


def take_quota_at_once(url: str, count: int, quota: int, queue: Any) -> None:
    """(In a child process.) ``count`` single calls against the shared daily quota "shared"
    (``quota`` a day, on the day "d1"); how many were granted goes to ``queue``."""
    import redis

    from tierii_celery import quota as quotas

    quotas.day_source = lambda: "d1"
    client = redis.Redis.from_url(url)
    shared = quotas.SharedDailyQuota(client, "shared", quota)
    queue.put(sum(shared.take(1) for _ in range(count)))
    client.close()
