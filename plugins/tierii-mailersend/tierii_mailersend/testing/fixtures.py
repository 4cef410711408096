"""pytest fixtures for the local MailerSend (a ``pytest11`` plugin of tierii-mailersend).

- ``local_mailersend``: a running :class:`~tierii_mailersend.testing.LocalMailerSend` with
  test-friendly timing (bulk jobs complete after 20 ms) and no per-minute limits; configure it
  further in the test (``local_mailersend.faults.fail(500)``, ``.suppress(...)``), or build your
  own with different settings inside a ``with`` block.
- ``local_mailersend_env``: the same server, with ``TIERII_MAILERSEND_*`` set so that a
  TierII run in the test process sends to it (fast polling, short timeouts).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tierii_mailersend.testing.server import LocalMailerSend

#: TierII settings that suit the local server in tests: fast polls, and request limits as
#: unlimited as the server's (TierII paces requests to the limits it is told)
FAST_SETTINGS = {
    "TIERII_MAILERSEND_POLL_INTERVAL": "0.01",
    "TIERII_MAILERSEND_POLL_TIMEOUT": "10",
    "TIERII_MAILERSEND_TIMEOUT": "5",
    "TIERII_MAILERSEND_EMAIL_PER_MINUTE": "600000",
    "TIERII_MAILERSEND_BULK_PER_MINUTE": "600000",
}


@pytest.fixture
def local_mailersend() -> Iterator[LocalMailerSend]:
    with LocalMailerSend(bulk_delay=0.02, limits={"email": None, "bulk-email": None, "other": None}) as api:
        yield api


@pytest.fixture
def local_mailersend_env(
    local_mailersend: LocalMailerSend, monkeypatch: pytest.MonkeyPatch
) -> LocalMailerSend:
    for name, value in {**local_mailersend.environment(), **FAST_SETTINGS}.items():
        monkeypatch.setenv(name, value)
    return local_mailersend
