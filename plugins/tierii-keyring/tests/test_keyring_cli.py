"""``tierii credentials set|delete|list`` and ``tierii check``, run as a user would, on a real
encrypted file keyring (shared with this process, which looks inside it)."""

from __future__ import annotations

import json

import keyring
import pytest
from click.testing import CliRunner

from tierii_keyring.commands import credentials
from tierii_keyring.store import SERVICE
from tierii_keyring.testing import PASSWORD_VARIABLE

pytestmark = pytest.mark.network

PASSWORD = "cli-Pw_never-shown-42"  # the one auth_sink requires (conftest.SMTP_PASSWORD)


def listed(result) -> dict[str, str]:
    """``tierii credentials list``'s output: provider -> where its secret comes from."""
    assert result.returncode == 0, result.stderr
    return dict(line.split(None, 1) for line in result.stdout.splitlines())


def _no_secret_in(result, secret: str = PASSWORD) -> None:
    assert secret not in result.stdout and secret not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_plugin_is_found_through_its_entry_point(tierii):
    result = tierii.tierii("plugins", "--json")
    assert result.returncode == 0, result.stderr
    [row] = [r for r in json.loads(result.stdout) if r["name"] == "tierii-keyring"]
    assert "tierii_resolve_credentials" in row["hooks"] and "tierii_register_commands" in row["hooks"]


def test_set_from_stdin_then_list_says_keyring(tierii):
    assert listed(tierii.tierii("credentials", "list"))["smtp"] == "none"

    stored = tierii.tierii("credentials", "set", "smtp", "--stdin", stdin=PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    _no_secret_in(stored)
    assert keyring.get_password(SERVICE, "smtp") == PASSWORD, "the line, without its newline"
    assert "TIERII_SMTP_USERNAME" in stored.stdout, "the login name stays in settings: say so"

    after = tierii.tierii("credentials", "list")
    assert listed(after)["smtp"] == "keyring"
    _no_secret_in(after)


def test_list_says_settings_and_flags_a_copy_in_both_places(tierii):
    tierii.env["TIERII_SMTP_PASSWORD"] = "settings-copy-Pw"
    assert listed(tierii.tierii("credentials", "list"))["smtp"] == "settings (TIERII_SMTP_PASSWORD)"

    stored = tierii.tierii("credentials", "set", "smtp", "--stdin", stdin=PASSWORD)
    assert stored.returncode == 0, stored.stderr
    assert "warning: TIERII_SMTP_PASSWORD is set too" in stored.stderr
    both = tierii.tierii("credentials", "list")
    assert listed(both)["smtp"] == "keyring (TIERII_SMTP_PASSWORD is set too and not used: remove it)"
    _no_secret_in(both, "settings-copy-Pw")
    _no_secret_in(both)


def test_the_hidden_prompt_asks_twice_and_never_echoes(file_keyring):
    result = CliRunner().invoke(
        credentials, ["set", "smtp"], input=f"{PASSWORD}\ntypo\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "do not match" in result.output
    assert keyring.get_password(SERVICE, "smtp") == PASSWORD


def test_delete_removes_the_entry_and_again_is_harmless(tierii):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    deleted = tierii.tierii("credentials", "delete", "smtp")
    assert deleted.returncode == 0 and "deleted: smtp" in deleted.stdout, deleted.stderr
    assert keyring.get_password(SERVICE, "smtp") is None
    again = tierii.tierii("credentials", "delete", "smtp")
    assert again.returncode == 0 and "nothing to delete" in again.stdout
    assert listed(tierii.tierii("credentials", "list"))["smtp"] == "none"


@pytest.mark.parametrize("name", ["outbox", "smtpp"])
def test_set_refuses_a_provider_without_a_secret(tierii, name):
    result = tierii.tierii("credentials", "set", name, "--stdin", stdin=PASSWORD)
    assert result.returncode == 2
    assert f"no installed provider called '{name}' keeps a secret" in result.stderr
    assert "smtp" in result.stderr, "name the providers that do"
    assert keyring.get_password(SERVICE, name) is None


def test_an_empty_secret_is_refused(tierii):
    result = tierii.tierii("credentials", "set", "smtp", "--stdin", stdin="\n")
    assert result.returncode == 2 and "nothing stored" in result.stderr
    assert keyring.get_password(SERVICE, "smtp") is None


def test_check_says_where_the_credentials_came_from(tierii, auth_sink):
    tierii.smtp(auth_sink.port, "shop", password="stale-settings-Pw")
    from_settings = tierii.tierii("check")
    assert "credentials: from settings" in from_settings.stdout
    assert from_settings.returncode == 3, "the stale password is refused"

    keyring.set_password(SERVICE, "smtp", PASSWORD)
    from_keyring = tierii.tierii("check")
    assert from_keyring.returncode == 0, from_keyring.stdout + from_keyring.stderr
    assert "credentials: from keyring" in from_keyring.stdout
    assert (
        "warning: TIERII_SMTP_PASSWORD is set too, but the secret from keyring is the one used: "
        "the copy in settings can go" in from_keyring.stderr
    )
    _no_secret_in(from_keyring)

    del tierii.env["TIERII_SMTP_PASSWORD"]
    only_keyring = tierii.tierii("check")
    assert only_keyring.returncode == 0 and "the copy in settings" not in only_keyring.stderr


def test_a_locked_keyring_stops_a_send_before_anything_is_sent(tierii, smtp_sink):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    tierii.smtp(smtp_sink.port, "shop")
    tierii.contacts(3)
    tierii.env[PASSWORD_VARIABLE] = "not-the-keyring-password"
    result = tierii.send()
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "the keyring (tierii_keyring.testing.EnvironmentPasswordKeyring) could not read the 'smtp' entry"
        in (result.stderr)
    )
    assert "TIERII_DISABLE_PLUGINS=tierii-keyring" in result.stderr
    assert smtp_sink.messages == []
    _no_secret_in(result)


def test_an_unavailable_keyring_stops_a_send_and_the_way_out_works(tierii, auth_sink):
    tierii.smtp(auth_sink.port, "shop", password=PASSWORD)
    emails = tierii.contacts(2)
    tierii.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    refused = tierii.send()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "keyring.backends.fail.Keyring" in refused.stderr and "Traceback" not in refused.stderr
    assert auth_sink.messages == []

    tierii.env["TIERII_DISABLE_PLUGINS"] = "tierii-keyring"  # the way out the message names
    sent = tierii.send()
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sorted(auth_sink.recipients) == emails


def test_smtp_without_a_login_sends_without_any_keyring(tierii, smtp_sink):
    tierii.smtp(smtp_sink.port, "")
    emails = tierii.contacts(2)
    tierii.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # any use would fail
    result = tierii.send()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(smtp_sink.recipients) == emails


def test_a_provider_without_a_secret_sends_without_any_keyring(tierii):
    tierii.contacts(2)
    tierii.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # any use would fail
    result = tierii.send("--provider", "outbox")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tierii.work / "outbox" / "new").iterdir())) == 2
