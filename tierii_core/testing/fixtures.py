"""The kit's fixtures (see :mod:`tierii_core.testing` for how to enable them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tierii_core.plugins import PluginManager, make_plugin_manager
from tierii_core.testing.environment import clean_environment
from tierii_core.testing.smtp_sink import SmtpSink


@pytest.fixture
def tierii_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``TIERII_*`` variable from the machine, an empty working directory; set yours with
    the returned ``monkeypatch`` (``tierii_environment.setenv("TIERII_SQL_TABLE", "contacts")``)."""
    clean_environment(monkeypatch, tmp_path / "work")
    return monkeypatch


@pytest.fixture
def tierii_state_dir(tierii_environment: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty state directory (the journal's home), set as ``TIERII_STATE_DIR``."""
    state = tmp_path / "state"
    state.mkdir()
    tierii_environment.setenv("TIERII_STATE_DIR", str(state))
    return state


@pytest.fixture
def tierii_plugin_manager(tierii_environment: pytest.MonkeyPatch) -> PluginManager:
    """The default plugins only: no installed plugin is loaded. Register yours, then check::

    tierii_plugin_manager.register(my_plugin, name="tierii-example")
    tierii_plugin_manager.check_pending()
    """
    return make_plugin_manager(load_entry_points=False)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP server on 127.0.0.1 recording what it accepts (needs ``aiosmtpd``)."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
