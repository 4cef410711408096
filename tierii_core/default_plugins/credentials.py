"""Credentials from the provider's own settings: the fallback every other source comes before."""

from __future__ import annotations

from typing import Any

import attrs

from tierii_core import hookimpl
from tierii_core.models import Credentials, Secret

_SECRET_FIELDS = ("password", "api_token", "token", "secret")


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
    return Credentials(username=username, secret=secret)
