from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # celery_cluster (importlib mode)

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
