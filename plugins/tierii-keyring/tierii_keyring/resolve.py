"""The ``tierii_resolve_credentials`` answer: the provider's secret from its keyring entry."""

from __future__ import annotations

from typing import Any

from tierii_core.default_plugins.credentials import secret_field
from tierii_core.models import Credentials, Secret
from tierii_core.settings import env_name
from tierii_keyring import store


def credentials_for(provider: str, settings: Any) -> Credentials | None:
    """The keyring's secret for ``provider`` with the login name from its settings.

    None (the settings are asked next) for a provider that keeps no secret, whose keyring
    is then never touched, and for a provider the keyring has no entry for.
    """
    field = secret_field(type(settings)) if settings is not None else None
    if field is None:
        return None
    secret = store.read(provider, env_name(provider, field))
    if secret is None:
        return None
    username = getattr(settings, "username", None) or None
    return Credentials(username=username, secret=Secret(secret), source=store.SOURCE)
