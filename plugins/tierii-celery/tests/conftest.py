from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # celery_cluster (importlib mode)

from celery_cluster import TEMPLATE, Cluster, SmtpCounter

from tierii_celery.testing import RedisServer, redis_binary


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (127.0.0.1, free port, password); skipped without
    Debian's redis-server unless TIERII_REQUIRE_REDIS=1 (CI, after .ci/redis)."""
    binary = redis_binary()
    if binary is None:
        why = "no redis-server: bash .ci/redis installs it"
        if os.environ.get("TIERII_REQUIRE_REDIS") == "1":
            pytest.fail(f"TIERII_REQUIRE_REDIS=1 but {why}", pytrace=False)
        pytest.skip(why)
    server = RedisServer(tmp_path / "redis", binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer):  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    url = os.environ.get("TIERII_TEST_POSTGRES_URL")
    if url:
        from tierii_core.testing.postgres import fresh_schema

        with fresh_schema(url) as where:
            yield {"TIERII_STATE_URL": where.url}
        return
    yield {"TIERII_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def cluster(tmp_path: Path, redis_server, state):  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir()
    (work / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    with SmtpCounter() as smtp:
        cluster = Cluster(work, redis_server.url, smtp.port, state)
        cluster.smtp = smtp
        try:
            yield cluster
        finally:
            cluster.stop()
