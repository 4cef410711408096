"""Amazon SNS HTTP(S) messages: reading them and proving that SNS sent them.

SNS signs every message it POSTs: ``Signature`` is an RSA signature (SHA1 for
``SignatureVersion`` 1, SHA256 for 2) over a canonical string of the message's fields, made
with the key of the certificate at ``SigningCertURL``. A certificate is fetched only over
https from a host named ``sns.<region>.amazonaws.com`` (``.com.cn`` in China), checked
against the system's certificate authorities, never after a redirect, and cached; anything
else is refused before a byte is fetched. ``SubscribeURL`` is held to the same rule before
it is visited to confirm a subscription.

The rule lives in :class:`SnsHosts`. Nothing in TierII's commands or settings can widen it;
the test kit (``tierii_ses.testing.sns``) passes its own subclass to
:func:`tierii_ses.notification_server.make_app` to trust a local CA on 127.0.0.1.
Nothing here imports a web framework.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

#: the hosts SNS signs from and confirms subscriptions at
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
#: a PEM certificate is about 2 KB: far more is not one
MAX_CERTIFICATE = 64 * 1024
FETCH_TIMEOUT = 10.0

#: the fields signed for each message type, in the order SNS concatenates them
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_REQUIRED = ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "Signature", "SigningCertURL")


class MalformedMessage(ValueError):
    """Not an SNS message this receiver can check."""


class Forged(Exception):
    """The signature does not prove that SNS sent the message; the args say why."""


@frozen
class SnsMessage:
    """An SNS HTTP message, as POSTed (the fields TierII reads, and all of them for signing)."""

    fields: Mapping[str, str]

    @property
    def type(self) -> str:
        return self.fields["Type"]

    @property
    def message_id(self) -> str:
        return self.fields["MessageId"]

    @property
    def topic_arn(self) -> str:
        return self.fields["TopicArn"]

    @property
    def message(self) -> str:
        return self.fields["Message"]

    @property
    def subscribe_url(self) -> str:
        return self.fields.get("SubscribeURL", "")

    @classmethod
    def parse(cls, body: bytes) -> SnsMessage:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise MalformedMessage(f"not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise MalformedMessage("not a JSON object")
        kind = payload.get("Type")
        if kind not in SIGNED_FIELDS:
            raise MalformedMessage(f"unknown SNS message Type {kind!r}")
        needed = (*_REQUIRED, *(("SubscribeURL", "Token") if kind != "Notification" else ()))
        missing = [name for name in needed if not isinstance(payload.get(name), str) or not payload[name]]
        if missing:
            raise MalformedMessage(f"a {kind} without {', '.join(missing)}")
        fields = {k: v for k, v in payload.items() if isinstance(v, str)}
        return cls(fields)

    def string_to_sign(self) -> bytes:
        """The canonical text SNS signs: ``name\\nvalue\\n`` for each signed field present."""
        parts = []
        for name in SIGNED_FIELDS[self.type]:
            value = self.fields.get(name)
            if value is None:  # only Subject is optional
                continue
            parts.append(f"{name}\n{value}\n")
        return "".join(parts).encode("utf-8")


def _no_redirects() -> urllib.request.HTTPRedirectHandler:
    class Refuse(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # a 3xx is then an error: a certificate is fetched from where it is named

    return Refuse()


class SnsHosts:
    """Which URLs SNS's certificates and subscription confirmations may come from, and how
    they are fetched: https on port 443, an ``sns.<region>.amazonaws.com`` host, the system's
    certificate authorities, no redirects."""

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            parts.scheme == "https"
            and parts.port in (None, 443)
            and not parts.username
            and not parts.password
            and bool(SNS_HOST.match(parts.hostname or ""))
        )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context()

    def fetch(self, url: str, limit: int = MAX_CERTIFICATE) -> bytes:
        """GET ``url`` (which :meth:`allows`); at most ``limit`` bytes. OSError on any failure."""
        if not self.allows(url):
            raise OSError(f"{url} is not an SNS URL")
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl_context()), _no_redirects()
        )
        with opener.open(urllib.request.Request(url, method="GET"), timeout=FETCH_TIMEOUT) as answer:
            body = answer.read(limit + 1)
        if len(body) > limit:
            raise OSError(f"{url}: more than {limit} bytes")
        return body


class SignatureVerifier:
    """Verifies SNS signatures; the certificates' public keys are cached by URL. Thread-safe."""

    def __init__(self, hosts: SnsHosts | None = None) -> None:
        self.hosts = hosts or SnsHosts()
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def verify(self, message: SnsMessage) -> None:
        """Return when SNS signed ``message``; raise :class:`Forged` otherwise."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        version = message.fields.get("SignatureVersion", "1")
        algorithm = {"1": hashes.SHA1, "2": hashes.SHA256}.get(version)
        if algorithm is None:
            raise Forged(f"unknown SignatureVersion {version!r}")
        url = message.fields["SigningCertURL"]
        if not self.hosts.allows(url):
            raise Forged(f"SigningCertURL {url!r} is not an SNS certificate URL")
        try:
            signature = base64.b64decode(message.fields["Signature"], validate=True)
        except (binascii.Error, ValueError):
            raise Forged("Signature is not base64") from None
        key = self._public_key(url)
        try:
            key.verify(signature, message.string_to_sign(), padding.PKCS1v15(), algorithm())
        except (InvalidSignature, TypeError, ValueError):
            raise Forged("the signature does not match the message") from None

    def _public_key(self, url: str) -> Any:
        with self._lock:
            if url in self._keys:
                return self._keys[url]
        try:
            pem = self.hosts.fetch(url)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise Forged(f"could not fetch the signing certificate {url}: {exc}") from None
        key = _key_of(pem, url)
        with self._lock:
            if len(self._keys) >= 64:  # SNS rotates its certificate rarely; a bound all the same
                self._keys.clear()
            self._keys[url] = key
        return key


def _key_of(pem: bytes, url: str) -> Any:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Forged(f"{url} is not a PEM certificate") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Forged(f"the signing certificate {url} is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Forged(f"the signing certificate {url} has no RSA key")
    return key
