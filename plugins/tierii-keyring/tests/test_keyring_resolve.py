"""The hook's answer from a real keyring: what it holds, what it does not, and when it cannot."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from tierii_core.default_plugins.outbox import Outbox
from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_keyring.resolve import credentials_for
from tierii_keyring.store import SERVICE, KeyringUnavailable
from tierii_keyring.testing import PASSWORD_VARIABLE, EnvironmentPasswordKeyring
from tierii_smtp.settings import SmtpSettings

PASSWORD = "smtp-Pw_in-keyring-7"


def test_the_entry_is_the_secret_and_the_login_name_stays_in_settings(file_keyring):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    credentials = credentials_for("smtp", SmtpSettings(host="mail.example", username="shop"))
    assert credentials.secret == Secret(PASSWORD)
    assert credentials.username == "shop"
    assert credentials.source == "keyring"
    assert credentials_for("mailersend", SmtpSettings(username="shop")) is None, "one entry per provider"


def test_a_provider_without_a_secret_never_touches_the_keyring(file_keyring):
    keyring.set_keyring(fail.Keyring())  # any read would raise
    assert credentials_for("outbox", Outbox.Settings()) is None


def test_smtp_without_a_login_name_never_touches_the_keyring(file_keyring):
    """A relay that takes mail without AUTH: the keyring's secret could not be used (it holds no
    login name), so an installed plugin never stops such a send over a keyring it cannot read."""
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    assert credentials_for("smtp", SmtpSettings(host="relay.example")) is None
    keyring.set_keyring(fail.Keyring())  # any read would raise
    assert credentials_for("smtp", SmtpSettings(host="relay.example")) is None


def test_an_unavailable_keyring_names_the_backend_and_the_way_out(file_keyring):
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailable) as caught:
        credentials_for("smtp", SmtpSettings(host="mail.example", username="shop"))
    message = str(caught.value)
    assert isinstance(caught.value, ConfigurationError), "a configuration error: exit 2, nothing sent"
    assert "keyring.backends.fail.Keyring" in message
    assert "No recommended backend" in message, "keyring's own reason"
    assert "TIERII_DISABLE_PLUGINS=tierii-keyring" in message
    assert "TIERII_SMTP_PASSWORD" in message, "the setting the secret can go in instead"


def test_a_locked_file_keyring_is_an_error_never_an_empty_secret(file_keyring, monkeypatch):
    keyring.set_password(SERVICE, "smtp", PASSWORD)
    monkeypatch.setenv(PASSWORD_VARIABLE, "wrong-password")
    keyring.set_keyring(EnvironmentPasswordKeyring())  # locked again: a new process, as it were
    with pytest.raises(KeyringUnavailable) as caught:
        credentials_for("smtp", SmtpSettings(host="mail.example", username="shop"))
    message = str(caught.value)
    assert "tierii_keyring.testing.EnvironmentPasswordKeyring" in message
    assert "Incorrect Password" in message
    assert PASSWORD not in message


def test_an_empty_entry_counts_as_none(file_keyring):
    keyring.set_password(SERVICE, "smtp", "")
    assert credentials_for("smtp", SmtpSettings(host="mail.example")) is None
