"""Reading the connection string and the endpoint, with messages that never show the key.

A connection string is ``endpoint=https://NAME.communication.azure.com/;accesskey=BASE64``
(Azure portal > Communication Service > Keys). The SDK's own parser drops the scheme and then
assumes https; this one keeps it, so that the local ACS of the tests can run on plain http.
Plain http is refused for anything but the loopback: the messages would travel in clear.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from attrs import frozen

from tierii_core.models import Secret

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@frozen
class Connection:
    """Where the resource is, and its access key (kept secret)."""

    endpoint: str
    access_key: Secret


def check_endpoint(value: str) -> str:
    """``value`` without its trailing slash; ValueError (naming the problem) if it is unusable."""
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("the endpoint must be an https URL such as https://NAME.communication.azure.com")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("the endpoint must use https (plain http only for a local test server)")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError("the endpoint is the resource's base URL: no path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def parse_connection_string(text: str) -> Connection:
    """``endpoint=...;accesskey=...`` -> :class:`Connection`; ValueError that never quotes the key."""
    fields: dict[str, str] = {}
    for element in text.strip().split(";"):
        if not element.strip():
            continue
        key, sep, value = element.partition("=")
        if not sep:
            raise ValueError("expected name=value pairs separated by ';' (endpoint=...;accesskey=...)")
        fields[key.strip().lower()] = value.strip()
    missing = [name for name in ("endpoint", "accesskey") if not fields.get(name)]
    if missing:
        raise ValueError(f"the connection string has no {' and no '.join(missing)}")
    key = fields["accesskey"]
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "the connection string's accesskey is not base64 (copy it whole from the portal)"
        ) from None
    return Connection(check_endpoint(fields["endpoint"]), Secret(key))
