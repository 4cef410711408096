"""The plugin as TierII sees it: found through its entry point, cheap to import, its settings
and its ``tierii ses notifications serve`` command run as a user runs them (a real process)."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tierii_core.plugins import Registry, make_plugin_manager
from tierii_core.settings import SettingsReader
from tierii_core.suppression import SuppressionList
from tierii_ses.provider import SesProvider
from tierii_ses.settings import SesSettings
from tierii_ses.testing.sns import LocalSns, bounce, post

TIERII = [sys.executable, "-m", "tierii_core.cli"]


def test_loading_the_plugin_does_not_import_boto3_or_the_web_stack() -> None:
    """`tierii --help` and runs through other providers must not pay for boto3 (~0.3 s)."""
    code = (
        "import sys\n"
        "from tierii_core.cli import cli\n"
        "from tierii_core.plugins import Registry, make_plugin_manager\n"
        "pm = make_plugin_manager()\n"
        "cls = Registry(pm).get('provider', 'ses')\n"
        "cls(cls.Settings(region='us-east-1'), None)\n"
        "pm.hook.tierii_register_commands(cli=cli)\n"
        "assert 'ses' in cli.commands, sorted(cli.commands)\n"
        "modules = ('boto3', 'botocore', 'cryptography', 'moto', 'starlette', 'uvicorn')\n"
        "print(','.join(sorted(m for m in modules if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_entry_point_registers_the_provider() -> None:
    pm = make_plugin_manager()
    assert pm.sources["tierii-ses"].distribution == "tierii-ses"
    assert Registry(pm).get("provider", "ses") is SesProvider


def test_settings_come_from_tierii_ses_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_SES_REGION", "eu-west-1")
    monkeypatch.setenv("TIERII_SES_CONFIGURATION_SET", "marketing")
    monkeypatch.setenv("TIERII_SES_MAX_SEND_RATE", "14")
    monkeypatch.setenv("TIERII_SES_DAILY_QUOTA", "50000")
    settings = SettingsReader().load(SesSettings, "ses")
    assert (settings.region, settings.configuration_set) == ("eu-west-1", "marketing")
    assert (settings.max_send_rate, settings.daily_quota) == (14.0, 50000)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TIERII_SES_REGION", "useast1", "an AWS region"),
        ("TIERII_SES_MAX_SEND_RATE", "-1", ">= 0"),
        ("TIERII_SES_NOTIFICATION_TOPICS", "my-topic", "not an SNS topic ARN"),
    ],
)
def test_bad_settings_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    from tierii_core.errors import SettingsError

    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        SettingsReader().load(SesSettings, "ses")
    assert variable in str(raised.value) and expected in str(raised.value)


# -- tierii ses notifications serve, a real process ------------------------------------------------


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("TIERII_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    return dict(os.environ)


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*TIERII, *args], capture_output=True, text=True, timeout=60, check=False, env=env)


def test_help_lists_the_command_with_its_defaults(clean_env: dict[str, str]) -> None:
    top = run("--help", env=clean_env)
    assert "ses" in top.stdout and "Amazon SES tools" in top.stdout
    serve = run("ses", "notifications", "serve", "--help", env=clean_env)
    assert serve.returncode == 0, serve.stderr
    for text in ("--host", "127.0.0.1", "--port", "8027", "/notifications/ses", "sns.<region>.amazonaws.com"):
        assert text in serve.stdout


def test_a_port_in_use_is_reported_and_exits_2(clean_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("ses", "notifications", "serve", "--port", str(port), env=clean_env)
    assert result.returncode == 2, result.stderr
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr


class Served:
    """A running ``tierii ses notifications serve``: its log events, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put("")

    def next_event(self, name: str) -> dict[str, Any]:
        while True:
            line = self.lines.get(timeout=30)
            self.seen.append(line)
            if not line:
                raise AssertionError(f"the server ended before {name}: {''.join(self.seen)}")
            if line.startswith("{") and json.loads(line).get("event") == name:
                return json.loads(line)


@pytest.fixture
def served(clean_env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    process = subprocess.Popen(
        [*TIERII, "ses", "notifications", "serve", "--port", "0", "--log-json"],
        env=clean_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Served(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def test_the_served_endpoint_trusts_only_sns_hosts_and_stops_on_ctrl_c(
    served: Served, tmp_path: Path
) -> None:
    """As a user runs it, no test CA can be slipped in: a message signed by the local SNS,
    genuine in every other way, is refused because its certificate is not on an SNS host."""
    assert served.next_event("sns.any_topic")
    url = served.next_event("webhook.listening")["url"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/notifications/ses")
    with LocalSns() as sns:
        status, text = post(url, sns.notification(bounce(["ann@example.com"])))
    assert status == 401 and "not an SNS certificate URL" in text
    assert served.next_event("webhook.rejected")["status"] == 401
    assert list(SuppressionList(tmp_path / "state", read_only=True)) == []
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(30) == 0
    assert served.next_event("webhook.stopped")
