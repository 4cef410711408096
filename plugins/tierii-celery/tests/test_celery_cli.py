"""The plugin's commands: light to load, and a send that cannot start queues nothing (exit 2)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from celery_cluster import TEMPLATE, Cluster, write_contacts


def test_help_does_not_load_celery_kombu_or_redis() -> None:
    code = (
        "import sys\n"
        "from tierii_core.cli import main\n"
        "sys.argv = ['tierii', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('celery', 'kombu', 'redis', 'billiard')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "worker" in result.stdout  # the plugin's command is there...
    assert result.stderr.strip().splitlines()[-1] == "[]"  # ...without its heavy modules


@pytest.fixture
def offline(tmp_path: Path) -> Cluster:
    """No broker, no server: what must fail does so before anything would be queued."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    write_contacts(work / "contacts.csv", 5)
    return Cluster(
        work, "redis://:secret-pass@127.0.0.1:1/0", 1, {"TIERII_STATE_DIR": str(tmp_path / "state")}
    )


def test_a_template_variable_nobody_provides_stops_before_queueing(offline: Cluster) -> None:
    (offline.work / "welcome.mustache").write_text(TEMPLATE + "{{coupon}}\n", encoding="utf-8")
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery")
    assert result.returncode == 2, result.stderr
    assert "coupon" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_broker_setting_is_a_configuration_error(offline: Cluster) -> None:
    del offline.env["TIERII_CELERY_BROKER_URL"]
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery")
    assert result.returncode == 2
    assert "TIERII_CELERY_BROKER_URL" in result.stderr and "Traceback" not in result.stderr


def test_a_broker_url_that_is_not_redis_names_the_setting(offline: Cluster) -> None:
    offline.env["TIERII_CELERY_BROKER_URL"] = "amqp://guest@127.0.0.1//"
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery")
    assert result.returncode == 2
    assert "TIERII_CELERY_BROKER_URL" in result.stderr


def test_executor_comes_from_the_environment_too(offline: Cluster) -> None:
    offline.env["TIERII_EXECUTOR"] = "celery"
    del offline.env["TIERII_CELERY_BROKER_URL"]
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache")
    assert result.returncode == 2 and "TIERII_CELERY_BROKER_URL" in result.stderr


def test_detach_without_celery_is_a_usage_error(offline: Cluster) -> None:
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache", "--detach")
    assert result.returncode == 2 and "--detach" in result.stderr


def test_a_window_is_refused_with_the_celery_executor(offline: Cluster) -> None:
    result = offline.run(
        "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", "--window", "09:00-17:00"
    )
    assert result.returncode == 2 and "--window" in result.stderr


def test_check_lists_the_settings_with_the_broker_password_masked(offline: Cluster) -> None:
    result = offline.run("check")
    text = result.stdout + result.stderr
    assert "TIERII_CELERY_BROKER_URL" in text
    assert "secret-pass" not in text


def test_the_task_payload_holds_the_campaign_and_contact_fields_only(tmp_path: Path, redis_server) -> None:  # type: ignore[no-untyped-def]
    """What sits in the broker: the campaign's name and the contacts' fields; never a password."""
    import redis

    work = tmp_path / "work"
    work.mkdir()
    (work / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    write_contacts(work / "contacts.csv", 30)
    cluster = Cluster(work, redis_server.url, 1, {"TIERII_STATE_DIR": str(tmp_path / "state")})
    cluster.env["TIERII_SMTP_PASSWORD"] = "smtp-secret-123"
    cluster.env["TIERII_SMTP_USERNAME"] = "shop"
    result = cluster.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", "--detach")
    assert result.returncode == 0, result.stderr
    client = redis.Redis.from_url(redis_server.url)
    messages = client.lrange("tierii", 0, -1)
    assert len(messages) == 2  # 30 contacts in batches of 20
    for raw in messages:
        envelope = json.loads(raw)
        assert "smtp-secret-123" not in raw.decode() and redis_server.password not in raw.decode()
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        campaign, contacts = args
        assert kwargs == {} and campaign.startswith("welcome-")
        assert all(set(c) == {"email", "fields", "origin"} for c in contacts)
    client.close()


def test_a_broker_that_cannot_be_reached_stops_before_queueing(offline: Cluster) -> None:
    result = offline.run("send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery")
    assert result.returncode == 2, result.stderr
    assert "cannot reach the broker" in result.stderr and "secret-pass" not in result.stderr
    assert "Traceback" not in result.stderr


def test_check_names_the_plugin_of_settings_without_a_prefix(offline: Cluster) -> None:
    offline.env["TIERII_EXECUTOR"] = "celery"
    result = offline.run("check")
    lines = result.stdout.splitlines()
    assert "[plugin ]" not in lines
    executor = next(i for i, line in enumerate(lines) if line.strip().startswith("TIERII_EXECUTOR"))
    assert lines[executor - 1] == "[plugin tierii_celery]"
    assert "TIERII_EXECUTOR is not a known setting" not in result.stderr
