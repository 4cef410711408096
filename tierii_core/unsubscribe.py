"""Signed per-recipient unsubscribe links and the RFC 8058 one-click headers.

A link is ``TIERII_UNSUBSCRIBE_URL`` plus one query parameter ``t``: the address (base64url)
and an HMAC-SHA256 of it under ``TIERII_UNSUBSCRIBE_SECRET``. The endpoint can verify it
without any database of issued links; nobody can forge a link for another address.

The secret may be several, comma-separated, newest first: links are signed with the first
and accepted with any, so a leaked secret can be rotated without breaking the links already
sent (CAN-SPAM wants them working for 30 days after the send).
"""

from __future__ import annotations

import base64
import binascii
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
        keys = [k.strip() for k in secret.reveal().split(",")] if secret else []
        if not keys or any(len(k) < 16 for k in keys):
            raise ConfigurationError(
                "TIERII_UNSUBSCRIBE_SECRET: expected a random secret of at least 16 characters, "
                "or several such secrets separated by commas, newest first "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        self.base_url = _ascii_url(base_url)
        self.path = parts.path or "/"
        self._keys = tuple(k.encode("utf-8") for k in keys)  # signs with the first, accepts any
        self.mailto = mailto
        self._separator = "&" if parts.query else "?"

    def _sign(self, payload: bytes, key: bytes | None = None) -> bytes:
        # not hmac.digest(), OpenSSL's one-shot: it lets go of the GIL around every call, and the
        # rendering thread then waits behind the sending one to take it back (a fifth of a
        # 3,000-message send, measured with py-spy); hmac.new keeps it for short data
        return hmac.new(key or self._keys[0], payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

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
        # every key is tried (no early exit): the time taken says nothing about which matched
        matches = [hmac.compare_digest(signature, self._sign(payload, key)) for key in self._keys]
        if not any(matches):
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
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


#: the standard base64 alphabet to the URL-safe one (what base64.urlsafe_b64encode does)
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
