"""How ACS authenticates a request, checked exactly: HMAC-SHA256 signatures from a
connection string's access key, or an Entra ID bearer token.

The signed string is ``VERB\\n{path and query}\\n{x-ms-date};{host};{x-ms-content-sha256}``,
HMAC-SHA256 with the base64-decoded access key, base64-encoded, in
``Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=...``.
The body's SHA-256 must match ``x-ms-content-sha256`` and the date must be recent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Collection, Mapping
from email.utils import parsedate_to_datetime

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
#: how far x-ms-date may be from the server's clock
MAX_SKEW = 15 * 60


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def signature(key: str, verb: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    to_sign = f"{verb}\n{path_and_query}\n{date};{host};{body_hash}"
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_hmac(
    keys: Collection[str],
    verb: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> str | None:
    """None when the request is signed by one of ``keys``; else why not (for the test's eyes)."""
    authorization = headers.get("authorization", "")
    scheme, _, params = authorization.partition(" ")
    if scheme != "HMAC-SHA256":
        return "no HMAC-SHA256 Authorization header"
    fields = dict(part.partition("=")[::2] for part in params.split("&"))
    if fields.get("SignedHeaders", "").lower() != SIGNED_HEADERS:
        return f"SignedHeaders must be {SIGNED_HEADERS}"
    date, host, body_hash = (
        headers.get("x-ms-date", ""),
        headers.get("host", ""),
        headers.get("x-ms-content-sha256", ""),
    )
    if not (date and host and body_hash):
        return "x-ms-date, host and x-ms-content-sha256 are all required"
    try:
        sent = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return "x-ms-date is not an RFC 1123 date"
    if abs(now - sent) > MAX_SKEW:
        return "x-ms-date is too far from the server's clock"
    if not hmac.compare_digest(body_hash, content_hash(body)):
        return "x-ms-content-sha256 does not match the body"
    given = fields.get("Signature", "")
    for key in keys:
        if hmac.compare_digest(given, signature(key, verb, path_and_query, date, host, body_hash)):
            return None
    return "the signature does not match any access key"


def check_bearer(headers: Mapping[str, str], valid: Callable[[str], bool]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "no Bearer token"
    return None if valid(token) else "the token is unknown or expired"
