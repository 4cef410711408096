"""Shared fixtures: a clean environment and working directory for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tierii_core.state import StateURL, Where
from tierii_core.testing.postgres import fresh_schema

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: read before clean_environment clears TIERII_* for each test
POSTGRES_URL = os.environ.get("TIERII_TEST_POSTGRES_URL", "").strip()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TIERII_* setting leaks in from the machine, and the working directory is empty."""
    for name in list(os.environ):
        if name.startswith("TIERII_") and not name.startswith("TIERII_REQUIRE_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


# -- the state store, SQLite and PostgreSQL ---------------------------------------------------


@pytest.fixture(scope="session")
def postgres_state_server() -> str:
    """The PostgreSQL test server's URL (``TIERII_TEST_POSTGRES_URL``, which .ci/postgres
    prints); skips without one unless TIERII_REQUIRE_POSTGRES=1."""
    url = POSTGRES_URL
    if not url:
        why = 'no PostgreSQL server: set TIERII_TEST_POSTGRES_URL (eval "$(bash .ci/postgres)" starts one)'
        if os.environ.get("TIERII_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TIERII_REQUIRE_POSTGRES=1 but {why}", pytrace=False)
        pytest.skip(why)
    return url


@pytest.fixture
def postgres_state(postgres_state_server: str) -> Iterator[StateURL]:
    """A state store URL on the test server, in a fresh schema of its own (dropped afterwards)."""
    with fresh_schema(postgres_state_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def state_where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """Each store in turn: a state directory, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return tmp_path / "state"
    return request.getfixturevalue("postgres_state")
