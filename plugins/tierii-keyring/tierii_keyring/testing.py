"""A keyring backend for tests: keyrings.alt's encrypted file, its password from the environment.

keyrings.alt's ``EncryptedKeyring`` asks for its password on the terminal; tests (and the
processes they start) have none, so this one reads it from ``TEST_KEYRING_PASSWORD``. Select it
with ``PYTHON_KEYRING_BACKEND=tierii_keyring.testing.EnvironmentPasswordKeyring``; the file is
``$XDG_DATA_HOME/python_keyring/crypted_pass.cfg``. Never use it outside tests: a password in
the environment protects nothing.
"""

from __future__ import annotations

import os

from keyring.errors import KeyringLocked
from keyrings.alt.file import EncryptedKeyring

PASSWORD_VARIABLE = "TEST_KEYRING_PASSWORD"


class EnvironmentPasswordKeyring(EncryptedKeyring):
    """keyrings.alt's encrypted file keyring unlocked by ``TEST_KEYRING_PASSWORD``."""

    def _password(self) -> str:
        password = os.environ.get(PASSWORD_VARIABLE)
        if not password:
            raise KeyringLocked(f"the encrypted file keyring is locked ({PASSWORD_VARIABLE} is not set)")
        return password

    def _get_new_password(self) -> str:
        return self._password()

    def _unlock(self) -> None:
        self.keyring_key = self._password()
        try:  # as EncryptedKeyring._unlock does, with the password from the environment
            reference = self.get_password("keyring-setting", "password reference")
        except AssertionError:  # the file's checksum does not match this key
            reference = None
        if reference != "password reference value":
            self._lock()
            raise ValueError("Incorrect Password")
