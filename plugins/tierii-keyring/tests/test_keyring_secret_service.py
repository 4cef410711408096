"""The Secret Service (gnome-keyring-daemon on a private D-Bus session) through keyring's own
SecretService backend: stored by one ``tierii`` process, used to send by another."""

from __future__ import annotations

import pytest

from tierii_core.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.network

PASSWORD = "cli-Pw_never-shown-42"  # the one auth_sink requires (conftest.SMTP_PASSWORD)


def test_stored_by_one_process_sent_by_another(tierii_secret_service, auth_sink: SmtpSink):
    tierii = tierii_secret_service
    tierii.smtp(auth_sink.port, "shop")
    emails = tierii.contacts(3)

    stored = tierii.tierii("credentials", "set", "smtp", "--stdin", stdin=PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "keyring.backends.SecretService.Keyring" in stored.stdout

    listed = tierii.tierii("credentials", "list")
    assert "smtp keyring" in {" ".join(line.split()) for line in listed.stdout.splitlines()}

    sent = tierii.send()
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sorted(auth_sink.recipients) == emails
    for text in (stored.stdout, stored.stderr, listed.stdout, sent.stdout, sent.stderr):
        assert PASSWORD not in text
    leaked = [p for p in tierii.files_written() if PASSWORD.encode() in p.read_bytes()]
    assert leaked == [], "gnome-keyring's files are encrypted; nothing else may hold the password"


def test_the_session_gone_is_a_clear_error_before_sending(
    tierii_secret_service, secret_service, auth_sink: SmtpSink
):
    tierii = tierii_secret_service
    tierii.smtp(auth_sink.port, "shop")
    tierii.contacts(2)
    assert tierii.tierii("credentials", "set", "smtp", "--stdin", stdin=PASSWORD).returncode == 0

    secret_service.stop()  # the D-Bus session and the daemon end: no Secret Service any more
    result = tierii.send()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "keyring.backends.SecretService.Keyring" in result.stderr
    assert "DBUS_SESSION_BUS_ADDRESS" in result.stderr
    assert "TIERII_DISABLE_PLUGINS=tierii-keyring" in result.stderr
    assert "Traceback" not in result.stderr
    assert auth_sink.messages == []
