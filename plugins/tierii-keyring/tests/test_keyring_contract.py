"""tierii-keyring against the credentials plugin contract, on a real encrypted file keyring."""

from __future__ import annotations

import pytest

import tierii_keyring.plugin
from tierii_core.testing import CredentialsPluginContract
from tierii_keyring.store import SERVICE
from tierii_keyring.testing import PASSWORD_VARIABLE


class TestKeyringCredentialsContract(CredentialsPluginContract):
    @pytest.fixture
    def plugin(self):
        return tierii_keyring.plugin

    @pytest.fixture
    def store_secret(self, file_keyring):
        import keyring

        return lambda provider, secret: keyring.set_password(SERVICE, provider, secret)

    @pytest.fixture
    def break_store(self, file_keyring, monkeypatch):
        import keyring

        from tierii_keyring.testing import EnvironmentPasswordKeyring

        def lock() -> None:  # a fresh backend (nothing unlocked yet) and the wrong password
            monkeypatch.setenv(PASSWORD_VARIABLE, "not-the-password")
            keyring.set_keyring(EnvironmentPasswordKeyring())

        return lock
