"""A campaign over SMTP with AUTH whose password is only in the keyring: delivered, and the
password is in no output, log, report or state file the run wrote."""

from __future__ import annotations

import base64
import json

import keyring
import pytest

from tierii_keyring.store import SERVICE

pytestmark = pytest.mark.network

PASSWORD = "cli-Pw_never-shown-42"  # the one auth_sink requires (conftest.SMTP_PASSWORD)


def _leaks(tierii, outputs: list[str]) -> list[str]:
    """Where the password (plain, or in AUTH PLAIN's base64) shows: outputs and every file."""
    forms = [PASSWORD.encode(), base64.b64encode(f"\0shop\0{PASSWORD}".encode())]
    found = [f"output {i}" for i, text in enumerate(outputs) if any(f.decode() in text for f in forms)]
    found += [str(path) for path in tierii.files_written() if any(f in path.read_bytes() for f in forms)]
    return found


def test_the_password_only_in_the_keyring_delivers_and_never_shows(tierii, auth_sink):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    tierii.smtp(auth_sink.port, "shop")
    emails = tierii.contacts(5)
    report = tierii.work / "report.json"

    result = tierii.send("--report", str(report), "--log-json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(auth_sink.recipients) == emails, "each recipient once"
    assert json.loads(report.read_text())["sent"] == 5
    status = tierii.tierii("status", "--json")
    assert status.returncode == 0, status.stderr
    written = {p.name for p in tierii.files_written()}
    assert {"report.json", "crypted_pass.cfg"} <= written and any(n.startswith("journal") for n in written)
    assert _leaks(tierii, [result.stdout, result.stderr, status.stdout, status.stderr]) == []


def test_the_keyring_wins_over_a_stale_password_in_settings(tierii, auth_sink):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    tierii.smtp(auth_sink.port, "shop", password="stale-Pw-from-last-year")
    emails = tierii.contacts(2)
    result = tierii.send()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(auth_sink.recipients) == emails
    assert _leaks(tierii, [result.stdout, result.stderr]) == []
