"""pytest fixtures for the local ACS (a ``pytest11`` plugin of tierii-azure).

- ``local_acs``: a running :class:`~tierii_azure.testing.LocalAcs` (plain http, no limits,
  operations final at the first poll).
- ``local_acs_env``: the same, with ``TIERII_AZURE_*`` set so that a TierII run in the test
  process sends to it (fast polls, limits as open as the server's).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tierii_azure.testing.server import LocalAcs

#: AzureSettings fields that suit the local ACS in tests: fast polls, limits as open as the
#: server's (TierII paces requests to the limits it is told; the server decides what is throttled)
FAST_FIELDS = {
    "poll_interval": 0.01,
    "poll_timeout": 10.0,
    "timeout": 5.0,
    "per_minute": 1_000_000,
    "per_hour": 1_000_000,
    "status_per_minute": 1_000_000,
    "status_per_hour": 1_000_000,
}
#: the same as TIERII_AZURE_* variables
FAST_SETTINGS = {f"TIERII_AZURE_{name.upper()}": str(value) for name, value in FAST_FIELDS.items()}


@pytest.fixture
def local_acs() -> Iterator[LocalAcs]:
    with LocalAcs() as acs:
        yield acs


@pytest.fixture
def local_acs_env(local_acs: LocalAcs, monkeypatch: pytest.MonkeyPatch) -> LocalAcs:
    for name, value in {**local_acs.environment(), **FAST_SETTINGS}.items():
        monkeypatch.setenv(name, value)
    return local_acs
