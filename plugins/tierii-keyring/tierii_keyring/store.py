"""The keyring entries TierII keeps: service ``tierii``, one entry per provider (``smtp``...).

Each call imports keyring (and so its backends) only when a secret is read or written. A
missing entry is ``None``; anything else that goes wrong in the keyring itself (locked, no
backend, the D-Bus session gone, a wrong file password) is a :class:`KeyringUnavailable`
naming the backend and the way out, never a traceback and never an empty secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tierii_core.errors import ConfigurationError

SERVICE = "tierii"
#: ``Credentials.source`` of what this plugin answers
SOURCE = "keyring"


class KeyringUnavailable(ConfigurationError):
    """The keyring cannot be read or written: nothing was sent (exit 2)."""


def backend_name() -> str:
    """The keyring backend in use, as ``module.Class`` (what PYTHON_KEYRING_BACKEND names)."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:  # the configured backend cannot even be loaded
        return os.environ.get("PYTHON_KEYRING_BACKEND") or "unknown backend"
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _reason(exc: BaseException, backend: str) -> str:
    text = str(exc).strip().rstrip(".")
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, OSError) and ("SecretService" in backend or "kwallet" in backend):
        reason += " (no D-Bus session to reach it: is DBUS_SESSION_BUS_ADDRESS set, the daemon running?)"
    return reason


@contextmanager
def _keyring_errors(action: str, settings_variable: str | None) -> Iterator[None]:
    try:
        yield
    except ConfigurationError:
        raise
    except Exception as exc:  # any backend's own failure: name it, with the way out
        instead = f"keep the secret in {settings_variable} and " if settings_variable else ""
        backend = backend_name()
        raise KeyringUnavailable(
            f"the keyring ({backend}) could not {action}: {_reason(exc, backend)}. Unlock or configure "
            f"the keyring (PYTHON_KEYRING_BACKEND or keyringrc.cfg, see keyring's documentation), or "
            f"{instead}set TIERII_DISABLE_PLUGINS=tierii-keyring to use the secrets in settings"
        ) from None


def read(provider: str, settings_variable: str | None = None) -> str | None:
    """The secret stored for ``provider``; None when there is no entry (or an empty one)."""
    with _keyring_errors(f"read the '{provider}' entry", settings_variable):
        import keyring

        return keyring.get_password(SERVICE, provider) or None


def write(provider: str, secret: str) -> None:
    with _keyring_errors(f"store the '{provider}' entry", None):
        import keyring

        keyring.set_password(SERVICE, provider, secret)


def delete(provider: str) -> bool:
    """Remove the entry; False when there was none."""
    with _keyring_errors(f"delete the '{provider}' entry", None):
        import keyring
        from keyring.errors import PasswordDeleteError

        if keyring.get_password(SERVICE, provider) is None:
            return False
        try:
            keyring.delete_password(SERVICE, provider)
        except PasswordDeleteError:
            return False
        return True
