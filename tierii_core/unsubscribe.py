"""Signed per-recipient unsubscribe links and the RFC 8058 one-click headers.

A link is ``TIERII_UNSUBSCRIBE_URL`` plus one query parameter ``t``: the address (base64url)
and an HMAC-SHA256 of it under ``TIERII_UNSUBSCRIBE_SECRET``. The endpoint can verify it
without any database of issued links; nobody can forge a link for another address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlsplit, urlunsplit

from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret

PARAMETER = "t"
_SIGNATURE_BYTES = 16  # 128 bits: unforgeable, and the link stays short


class UnsubscribeLinks:
    def __init__(self, base_url: str, secret: Secret, mailto: str = "") -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigurationError(
                f"TIERII_UNSUBSCRIBE_URL={base_url!r}: expected an https:// URL "
                "(RFC 8058 one-click needs https)"
            )
        if not secret or len(secret.reveal()) < 16:
            raise ConfigurationError(
                "TIERII_UNSUBSCRIBE_SECRET: expected a random secret of at least 16 characters "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        self.base_url = _ascii_url(base_url)
        self.path = parts.path or "/"
        self._key = secret.reveal().encode("utf-8")
        self.mailto = mailto
        self._separator = "&" if parts.query else "?"

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def token(self, email: str) -> str:
        payload = email.lower().encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def url(self, email: str) -> str:
        return f"{self.base_url}{self._separator}{PARAMETER}={self.token(email)}"

    def verify(self, token: str) -> str | None:
        """The address a genuine token was made for; None for a forged or damaged one."""
        payload_text, dot, signature_text = token.partition(".")
        if not dot:
            return None
        try:
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def headers(self, url: str) -> tuple[tuple[str, str], ...]:
        """``List-Unsubscribe`` (``url``, plus mailto when configured) and ``List-Unsubscribe-Post``."""
        value = f"<{url}>"
        if self.mailto:
            value += f", <mailto:{self.mailto}?subject=unsubscribe>"
        return (("List-Unsubscribe", value), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))


def _ascii_url(url: str) -> str:
    """The URL as every header and every provider can carry it: an internationalised host in
    its IDNA form, other non-ASCII characters percent-encoded (the same link to a browser)."""
    if url.isascii():
        return url
    parts = urlsplit(url)
    host, _, port = parts.netloc.rpartition("@")[2].partition(":")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ConfigurationError(
            f"TIERII_UNSUBSCRIBE_URL={url!r}: the host {host!r} is not a valid name: {exc}"
        ) from None
    netloc = ascii_host + (f":{port}" if port else "")
    safe = "/%:@!$&'()*+,;=-._~"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            parts.fragment,
        )
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
