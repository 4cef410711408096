"""The ``tierii_resolve_credentials`` answer: the provider's secret from its keyring entry."""

from __future__ import annotations

from typing import Any

from tierii_core.default_plugins.credentials import secret_field
from tierii_core.models import Credentials, Secret
from tierii_core.settings import env_name
from tierii_keyring import store


def credentials_for(provider: str, settings: Any) -> Credentials | None:
    """The keyring's secret for ``provider`` with the login name from its settings.

    None (the settings are asked next) for a provider that keeps no secret and for one that
    will not log in (a ``username`` setting left empty: smtp to a relay that takes mail
    without AUTH), whose keyring is then never touched, and for a provider the keyring has no
    entry for. The keyring holds only the secret, so without a login name it has nothing to give.
    """
    field = secret_field(type(settings)) if settings is not None else None
    if field is None:
        return None
    username = getattr(settings, "username", None)
    if username == "":  # a login name is asked for and none given: it will not log in
        return None
    secret = store.read(provider, env_name(provider, field))
    if secret is None:
        return None
    return Credentials(username=username, secret=Secret(secret), source=store.SOURCE)
