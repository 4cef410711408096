"""``tierii mailersend webhooks serve``: added to ``tierii`` by the plugin's hook, run as a user
runs it (a real process), its settings and its errors."""

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
from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.plugins import make_plugin_manager
from tierii_core.settings import SettingsReader
from tierii_core.suppression import SuppressionList
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.testing import TEST_SECRET, forge_webhook, sign_webhook, webhook_payload, webhook_ping

SECRET = "whsec-cli-test-0123456789"
TIERII = [sys.executable, "-m", "tierii_core.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TIERII, *args], capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd
    )


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a user's shell in an empty directory: no TIERII_* but the state dir."""
    for name in list(os.environ):
        if name.startswith("TIERII_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    return dict(os.environ)


@pytest.fixture
def tierii() -> Any:
    """The ``tierii`` group with the plugins' commands, as ``tierii_core.cli.main`` builds it."""
    make_plugin_manager().hook.tierii_register_commands(cli=cli)
    return cli


# -- the command is there ---------------------------------------------------------------------


def test_tierii_help_lists_the_mailersend_group() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "mailersend" in result.stdout and "MailerSend tools" in result.stdout


def test_the_webhooks_group_offers_serve_with_its_defaults() -> None:
    group = run("mailersend", "webhooks", "--help")
    assert group.returncode == 0, group.stderr
    assert "serve" in group.stdout
    serve = run("mailersend", "webhooks", "serve", "--help")
    assert serve.returncode == 0, serve.stderr
    for text in ("--host", "127.0.0.1", "--port", "8026", "--path", "/webhooks/mailersend"):
        assert text in serve.stdout
    assert "TIERII_MAILERSEND_WEBHOOK_SECRET" in serve.stdout


def test_the_hook_adds_one_group_named_mailersend() -> None:
    import click

    from tierii_mailersend import plugin

    group = click.Group("tierii")
    plugin.tierii_register_commands(cli=group)  # this plugin's hook alone, whatever else is installed
    assert list(group.commands) == ["mailersend"]
    assert "mailersend" in _registered_groups()
    webhooks = group.commands["mailersend"].commands["webhooks"]  # type: ignore[attr-defined]
    assert list(webhooks.commands) == ["serve"]


def _registered_groups() -> list[str]:
    import click

    group = click.Group("tierii")
    make_plugin_manager().hook.tierii_register_commands(cli=group)
    return list(group.commands)


# -- settings and errors ----------------------------------------------------------------------


def test_serving_without_a_secret_is_a_configuration_error(clean_env: dict[str, str], tierii: Any) -> None:
    result = CliRunner().invoke(tierii, ["mailersend", "webhooks", "serve"])
    assert result.exit_code == 2
    assert "TIERII_MAILERSEND_WEBHOOK_SECRET is not set" in result.output


@pytest.mark.parametrize("path", ["hooks", "/hooks?x=1", "/hooks/{name}", "/my hooks"])
def test_a_bad_path_is_a_usage_error(clean_env: dict[str, str], tierii: Any, path: str) -> None:
    result = CliRunner().invoke(tierii, ["mailersend", "webhooks", "serve", "--path", path])
    assert result.exit_code == 2
    assert "expected a URL path starting with '/'" in result.output


def test_the_secret_is_a_masked_setting(clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_MAILERSEND_WEBHOOK_SECRET", SECRET)
    reader = SettingsReader()
    settings = reader.load(MailerSendProvider.Settings, "mailersend")
    assert settings.webhook_secret.reveal() == SECRET
    assert SECRET not in repr(settings)
    shown = {o.variable: o.shown() for o in reader.origins(MailerSendProvider.Settings, "mailersend")}
    assert shown["TIERII_MAILERSEND_WEBHOOK_SECRET"] == "********"


def test_check_shows_the_webhook_secret_masked(clean_env: dict[str, str]) -> None:
    result = run(
        "check", "--provider", "outbox", env={**clean_env, "TIERII_MAILERSEND_WEBHOOK_SECRET": SECRET}
    )
    assert "TIERII_MAILERSEND_WEBHOOK_SECRET = ********" in result.stdout, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_port_in_use_is_reported_and_exits_2(clean_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "mailersend",
            "webhooks",
            "serve",
            "--port",
            str(port),
            env={**clean_env, "TIERII_MAILERSEND_WEBHOOK_SECRET": SECRET},
        )
    assert result.returncode == 2, result.stderr
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr
    assert SECRET not in result.stdout + result.stderr


# -- serving, as a user runs it ---------------------------------------------------------------


class Served:
    """A running ``tierii mailersend webhooks serve``: its URL and its log lines so far."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def next_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """The next log event called ``name`` (waiting on the process's output, not a clock)."""
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            if not line:
                raise AssertionError(f"the server ended before {name}: {''.join(self.seen)}")
            if line.startswith("{") and json.loads(line).get("event") == name:
                return json.loads(line)

    def rest(self) -> str:
        """Everything it logged, once it has ended."""
        while (line := self.lines.get(timeout=30)) != "":
            self.seen.append(line)
        return "".join(self.seen)


@pytest.fixture
def served(clean_env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    env = {**clean_env, "TIERII_MAILERSEND_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(
        [*TIERII, "mailersend", "webhooks", "serve", "--port", "0", "--path", "/hooks/ms"],
        env=env,
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


def test_serve_suppresses_genuine_events_and_stops_cleanly_on_ctrl_c(served: Served, tmp_path: Path) -> None:
    listening = served.next_event("webhook.listening")
    url = listening["url"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/hooks/ms")
    assert not url.endswith(":0/hooks/ms")  # the port it really got

    assert forge_webhook(webhook_payload("activity.unsubscribed", "ceo@example.com")).post(url)[0] == 401
    assert served.next_event("webhook.rejected")["status"] == 401
    genuine = sign_webhook(webhook_payload("activity.spam_complaint", "Ana@Example.com"), SECRET)
    assert genuine.post(url) == (200, "suppressed\n")
    assert served.next_event("webhook.suppressed")["email"] == "Ana@example.com"

    listed = run("suppress", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:2] == ["ana@example.com", "mailersend-webhook"]
    assert listed.stdout.rstrip().endswith("mailersend: spam_complaint")
    assert [s.entry for s in SuppressionList(tmp_path / "state", read_only=True)] == ["ana@example.com"]

    # Webhooks 2.0: a genuine event suppresses, a forged one is 401; the test ping changes nothing
    v2 = webhook_payload("activity.unsubscribed", "ben@example.com", version=2)
    assert forge_webhook(v2).post(url)[0] == 401
    assert served.next_event("webhook.rejected")["status"] == 401
    assert sign_webhook(v2, SECRET).post(url) == (200, "suppressed\n")
    assert served.next_event("webhook.suppressed")["format"] == "v2"
    assert sign_webhook(webhook_ping(), TEST_SECRET).post(url) == (200, "test ping received\n")
    assert served.next_event("webhook.test")["provider"] == "mailersend"
    suppressed = {s.entry for s in SuppressionList(tmp_path / "state", read_only=True)}
    assert suppressed == {"ana@example.com", "ben@example.com"}

    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(30) == 0
    output = served.rest()
    assert '"webhook.stopped"' in output
    assert SECRET not in output
