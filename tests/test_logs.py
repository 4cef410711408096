"""Log events without structlog's import cost: the same JSON lines and console lines, and
structlog still the engine wherever it is imported (tests capturing events, plugins)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from structlog.testing import capture_logs

from tierii_core.logs import configure_logging, get_logger


def _in_a_fresh_process(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_json_lines_keep_structlogs_keys_and_order_and_structlog_is_never_imported() -> None:
    run = _in_a_fresh_process(
        "import logging, sys\n"
        "from tierii_core.logs import configure_logging, get_logger\n"
        "configure_logging(json=True)\n"
        "log = get_logger()\n"
        "log.debug('hidden.event', x=0)\n"
        "log.bind(campaign='c1').warning('run.stopping', signal='SIGINT', count=3)\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('oops')\n"
        "print('structlog' in sys.modules)\n"
    )
    assert run.stdout == "False\n"
    first, second = (json.loads(line) for line in run.stderr.splitlines() if line.startswith("{"))
    assert list(first) == ["campaign", "signal", "count", "event", "level", "timestamp"]
    assert first["event"] == "run.stopping" and first["level"] == "warning" and first["count"] == 3
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert second["level"] == "error" and "ZeroDivisionError" in second["exception"]
    assert "hidden.event" not in run.stderr  # below the level


def test_console_lines_on_a_terminal_read_as_structlogs() -> None:
    run = _in_a_fresh_process(
        "from tierii_core.logs import configure_logging, get_logger\n"
        "configure_logging(json=False)\n"
        "get_logger().info('run.started', campaign='c1', dry_run=False)\n"
    )
    assert "[info     ] run.started" in run.stderr
    assert "campaign=c1 dry_run=False" in run.stderr


def test_events_go_through_structlog_when_it_is_imported_so_captures_see_them() -> None:
    configure_logging(json=True)
    with capture_logs() as events:
        get_logger().bind(campaign="c").info("run.finished", sent=2)
    assert events == [{"campaign": "c", "sent": 2, "event": "run.finished", "log_level": "info"}]


def test_a_send_imports_neither_structlog_nor_rich_when_not_on_a_terminal(tmp_path) -> None:
    (tmp_path / "c.csv").write_text("email,name\na@example.com,A\nb@example.com,B\n")
    (tmp_path / "t.mustache").write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello\n")
    code = (
        "import sys\n"
        "from tierii_core.cli import main\n"
        "sys.argv = ['tierii', 'send', 'c.csv', '-t', 't.mustache', '--transactional', '--outbox', 'out']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
        "print(sorted(name for name in ('structlog', 'rich') if name in sys.modules))\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    environment["TIERII_STATE_DIR"] = str(tmp_path / "state")
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, check=True)
    assert done.stdout.splitlines()[-2:] == ["exit 0", "[]"], done.stderr
    events = [json.loads(line)["event"] for line in done.stderr.splitlines() if line.startswith("{")]
    assert "run.started" in events and "run.finished" in events
