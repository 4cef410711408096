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

#: TierII settings that suit the local ACS in tests: fast polls, open limits
FAST_SETTINGS = {
    "TIERII_AZURE_POLL_INTERVAL": "0.01",
    "TIERII_AZURE_POLL_TIMEOUT": "10",
    "TIERII_AZURE_TIMEOUT": "5",
    "TIERII_AZURE_PER_MINUTE": "1000000",
    "TIERII_AZURE_PER_HOUR": "1000000",
    "TIERII_AZURE_STATUS_PER_MINUTE": "1000000",
    "TIERII_AZURE_STATUS_PER_HOUR": "1000000",
}


@pytest.fixture
def local_acs() -> Iterator[LocalAcs]:
    with LocalAcs() as acs:
        yield acs


@pytest.fixture
def local_acs_env(local_acs: LocalAcs, monkeypatch: pytest.MonkeyPatch) -> LocalAcs:
    for name, value in {**local_acs.environment(), **FAST_SETTINGS}.items():
        monkeypatch.setenv(name, value)
    return local_acs
