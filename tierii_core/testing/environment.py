"""A clean TierII environment for a test: no TIERII_* variable from the machine, no ``.env``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PREFIX = "TIERII_"
#: variables that steer the test run itself (TIERII_REQUIRE_POSTGRES=1, TIERII_TEST_POSTGRES_URL)
KEPT_PREFIXES = ("TIERII_REQUIRE_", "TIERII_TEST_")


def clean_environment(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Path:
    """Unset every ``TIERII_*`` setting and make ``workdir`` (created empty) the working directory.

    SettingsReader reads ``.env`` from the working directory, so an empty one is part of a
    clean environment. Undone by ``monkeypatch`` at the end of the test.
    """
    for name in list(os.environ):
        if name.startswith(PREFIX) and not name.startswith(KEPT_PREFIXES):
            monkeypatch.delenv(name)
    workdir.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(workdir)
    return workdir
