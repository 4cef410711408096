"""Credentials from the provider's own settings: the fallback every other source comes before."""

from __future__ import annotations

import typing
from typing import Any

import attrs

from tierii_core import hookimpl
from tierii_core.models import Credentials, Secret

_SECRET_FIELDS = ("password", "api_token", "token", "secret")

#: ``Credentials.source`` of the credentials this fallback gives
SOURCE = "settings"


def secret_field(settings_cls: type) -> str | None:
    """The settings field that holds a provider's secret: ``password``, ``api_token``, ``token``
    or ``secret`` if it has one, else its only :class:`Secret` field (``connection_string``).

    What a credentials plugin stores for the provider, and what ``tierii check`` calls the copy
    in settings. None: the provider keeps no secret in its settings.
    """
    if not attrs.has(settings_cls):
        return None
    secrets = [
        a.name
        for a in attrs.fields(attrs.resolve_types(settings_cls))
        if a.type is Secret or Secret in typing.get_args(a.type)
    ]
    named = [name for name in _SECRET_FIELDS if name in secrets]
    if named:
        return named[0]
    return secrets[0] if len(secrets) == 1 else None


def settings_secret(settings: Any) -> tuple[str, Secret] | None:
    """The secret the provider's settings hold, as ``(field name, value)``; None when unset."""
    name = secret_field(type(settings)) if settings is not None else None
    value = getattr(settings, name, None) if name else None
    return (name, value) if name and isinstance(value, Secret) and value else None


@hookimpl(trylast=True)
def tierii_resolve_credentials(provider: str, settings: Any) -> Credentials | None:
    if settings is None or not attrs.has(type(settings)):
        return None
    username = getattr(settings, "username", None) or None
    secret = next(
        (
            value
            for name in _SECRET_FIELDS
            if isinstance(value := getattr(settings, name, None), Secret) and value
        ),
        None,
    )
    if username is None and secret is None:
        return None
    return Credentials(username=username, secret=secret, source=SOURCE)
