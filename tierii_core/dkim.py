"""DKIM signing (RFC 6376, RFC 8463): the settings, the keys, and the signer providers use.

The signer does the DKIM work itself: :mod:`tierii_core.dkim_canonical` parses the message and
canonicalizes it (relaxed/relaxed) exactly as dkimpy does, which Hypothesis property tests hold
it to, and the ``DKIM-Signature`` header is built here; the signature itself is made by OpenSSL
through ``cryptography``. dkimpy was the cost on the hot path (its canonicalization, parsing
and folding took ~0.13 ms of a ~0.16 ms Ed25519 signature, and importing it pulls in dnspython,
~0.18 s of start-up); it stays for what is not on the hot path: verification (tests,
``tierii check --auth``) and the key form its own signer takes. Keys are loaded once, from the
PEM files ``openssl genpkey`` writes.

cryptography is imported when a key is loaded, never by ``tierii --help``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from attrs import field, frozen

from tierii_core.dkim_canonical import relaxed_body, relaxed_message, select_headers, sha256
from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret

SETTINGS_PREFIX = "dkim"
DOMAIN = "TIERII_DKIM_DOMAIN"
SELECTOR = "TIERII_DKIM_SELECTOR"
KEY_FILE = "TIERII_DKIM_PRIVATE_KEY_FILE"
KEY_TEXT = "TIERII_DKIM_PRIVATE_KEY"
MIN_RSA_BITS = 2048

#: the header fields signed when present (RFC 6376 §5.4.1's list, and RFC 8058's
#: List-Unsubscribe-Post, which dkimpy's default list lacks); From is signed once more than it
#: occurs, so that a From added on the way breaks the signature
SIGNED_HEADERS = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"subject",
        b"date",
        b"message-id",
        b"to",
        b"cc",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"in-reply-to",
        b"references",
        b"list-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    }
)
OVERSIGNED = (b"from",)

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.S)
_SELECTOR = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*$"
)


@frozen
class DkimSettings:
    """DKIM signing, read from ``TIERII_DKIM_<FIELD>``; several keys sign together (RSA + Ed25519)."""

    domain: str = field(
        default="",
        metadata={
            "help": "The signing domain (d=); must align with the From domain (same organisational domain).",
            "form": "a domain, e.g. greenleaf.example",
        },
    )
    selector: str = field(
        default="",
        metadata={
            "help": "The selector (s=) of each key, in the order of the keys: 'rsa2026,ed2026' to dual-sign.",
            "form": "SELECTOR[,SELECTOR]",
        },
    )
    private_key_file: str = field(
        default="",
        metadata={
            "help": "PEM private key file(s), RSA 2048+ or Ed25519 (openssl genpkey), one per selector.",
            "form": "PATH[,PATH]",
        },
    )
    private_key: Secret = field(
        default=Secret(""),
        metadata={"help": "The PEM text of the key(s) itself, instead of a file (kept secret)."},
    )

    @property
    def configured(self) -> bool:
        return bool(self.domain or self.selector or self.private_key_file or self.private_key)


class DkimKey:
    """One private key with its selector; signs digests through OpenSSL (Ed25519: libsodium
    where it is there). Never shows itself."""

    __slots__ = ("_ed25519", "_key", "_seed", "algorithm", "bits", "selector")

    def __init__(self, selector: str, key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

        self.selector = selector
        self._key = key
        self._seed: bytes | None = None
        if isinstance(key, rsa.RSAPrivateKey):
            self.algorithm, self.bits = "rsa-sha256", key.key_size
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self.algorithm, self.bits = "ed25519-sha256", 256
        else:  # pragma: no cover - load_key refuses other types
            raise TypeError("DKIM keys are RSA or Ed25519")
        #: Ed25519 through libsodium with the GIL held (dkim_ed25519), None: through OpenSSL
        self._ed25519 = None
        if self.algorithm == "ed25519-sha256":
            from cryptography.hazmat.primitives import serialization

            from tierii_core.dkim_ed25519 import sodium_signer

            seed = key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            self._ed25519 = sodium_signer(seed, key.sign)

    @classmethod
    def from_ed25519_seed(cls, selector: str, seed: bytes) -> DkimKey | None:
        """An Ed25519 key that signs through libsodium, without loading OpenSSL's bindings
        (``cryptography``: ~50 ms of a send's start); None when libsodium is not there."""
        from tierii_core.dkim_ed25519 import sodium_signer

        signer = sodium_signer(seed)
        if signer is None:
            return None
        key = cls.__new__(cls)
        key.selector, key._seed, key._key, key._ed25519 = selector, seed, None, signer
        key.algorithm, key.bits = "ed25519-sha256", 256
        return key

    @property
    def _private(self) -> Any:
        """The ``cryptography`` key object, made when first needed."""
        if self._key is None:
            from cryptography.hazmat.primitives.asymmetric import ed25519

            self._key = ed25519.Ed25519PrivateKey.from_private_bytes(self._seed)  # type: ignore[arg-type]
        return self._key

    def __repr__(self) -> str:
        return f"DkimKey({self.selector!r}, {self.algorithm}, {self.bits} bits)"

    @property
    def key_type(self) -> str:
        """The ``k=`` of the DNS record: ``rsa`` or ``ed25519``."""
        return self.algorithm.split("-")[0]

    def sign_digest(self, digest: bytes) -> bytes:
        """The signature of a SHA-256 digest: PKCS#1 v1.5 (RSA) or Ed25519 over the digest (RFC 8463)."""
        if self._ed25519 is not None:
            return self._ed25519(digest)
        if self.key_type == "ed25519":
            return self._private.sign(digest)
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, utils

        return self._key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    def public_key_b64(self) -> str:
        """The ``p=`` of the DNS record: SubjectPublicKeyInfo (RSA) or the raw 32 bytes (Ed25519)."""
        from cryptography.hazmat.primitives import serialization

        public = self._private.public_key()
        if self.key_type == "ed25519":
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return base64.b64encode(raw).decode("ascii")

    def dns_record(self) -> str:
        """The TXT record to publish at ``SELECTOR._domainkey.DOMAIN``."""
        return f"v=DKIM1; k={self.key_type}; p={self.public_key_b64()}"

    def dkimpy_private_key(self) -> bytes:
        """The key in the form dkimpy's own signer takes: PKCS#1 PEM (RSA), base64 raw seed (Ed25519)."""
        from cryptography.hazmat.primitives import serialization

        if self.key_type == "ed25519":
            raw = self._private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            return base64.b64encode(raw)
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )


def load_key(pem: bytes, selector: str, where: str) -> DkimKey:
    """A :class:`DkimKey` from PEM bytes; ``where`` (the setting, and the file) names the place in
    errors. The key's content never appears in a message."""
    seed = _ed25519_seed(pem)
    if seed is not None:
        key = DkimKey.from_ed25519_seed(selector, seed)
        if key is not None:
            return key
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except TypeError:
        raise ConfigurationError(
            f"{where}: the private key is encrypted; give an unencrypted PEM key (openssl genpkey, no -aes)"
        ) from None
    except Exception:
        raise ConfigurationError(
            f"{where}: not a PEM private key; expected an RSA (2048 bits or more) or Ed25519 key "
            "as written by 'openssl genpkey'"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigurationError(
                f"{where}: the RSA key has {key.key_size} bits; DKIM needs at least {MIN_RSA_BITS}"
            )
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        kind = (
            "an elliptic-curve (ECDSA)" if isinstance(key, ec.EllipticCurvePrivateKey) else "another kind of"
        )
        raise ConfigurationError(f"{where}: {kind} key; DKIM keys are RSA (2048 bits or more) or Ed25519")
    return DkimKey(selector, key)


#: the DER of an unencrypted Ed25519 private key (PKCS#8, RFC 8410) up to its 32-byte seed
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN, _PEM_END = b"-----BEGIN PRIVATE KEY-----", b"-----END PRIVATE KEY-----"


def _ed25519_seed(pem: bytes) -> bytes | None:
    """The seed of an Ed25519 key as ``openssl genpkey -algorithm ED25519`` writes it (one
    unencrypted PKCS#8 PEM block), read without OpenSSL; None for anything else."""
    text = pem.strip()
    if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
        return None
    try:
        der = base64.b64decode(b"".join(text[len(_PEM_BEGIN) : -len(_PEM_END)].split()), validate=True)
    except ValueError:  # binascii.Error, another block inside
        return None
    if len(der) != len(_ED25519_PKCS8) + 32 or not der.startswith(_ED25519_PKCS8):
        return None
    return der[len(_ED25519_PKCS8) :]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_keys(settings: DkimSettings) -> list[DkimKey]:
    """Every configured key, paired with its selector in order; ConfigurationError naming the
    setting for a missing or unreadable file, a text that is not a key, a key too short."""
    selectors = _split(settings.selector)
    for selector in selectors:
        if not _SELECTOR.match(selector):
            raise ConfigurationError(f"{SELECTOR}={selector!r}: not a valid selector (DNS labels)")
    pems: list[tuple[bytes, str]] = []
    if settings.private_key and settings.private_key_file:
        raise ConfigurationError(f"{KEY_FILE} and {KEY_TEXT} are both set: set one of them")
    if settings.private_key:
        blocks = _PEM_BLOCK.findall(settings.private_key.reveal())
        if not blocks:
            raise ConfigurationError(f"{KEY_TEXT}: no PEM block ('-----BEGIN ... PRIVATE KEY-----') in it")
        for number, block in enumerate(blocks, 1):
            where = KEY_TEXT if len(blocks) == 1 else f"{KEY_TEXT} (key {number})"
            pems.append((block.encode("ascii", "replace"), where))
    for path in _split(settings.private_key_file):
        where = f"{KEY_FILE} ({path})"
        try:
            with open(path, "rb") as handle:
                pems.append((handle.read(), where))
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read the key: {exc.strerror}") from None
    if not pems:
        raise ConfigurationError(f"DKIM is half configured: set {KEY_FILE} (or {KEY_TEXT}) with {DOMAIN}")
    if not settings.domain:
        raise ConfigurationError(f"{DOMAIN} is not set: the domain the DKIM key signs for (d=)")
    if len(selectors) != len(pems):
        raise ConfigurationError(
            f"{SELECTOR}={settings.selector!r}: {len(selectors)} selector(s) for {len(pems)} key(s); "
            "give one selector per key, in the same order"
        )
    return [load_key(pem, selector, where) for (pem, where), selector in zip(pems, selectors, strict=True)]


class DkimSigner:
    """Signs serialized messages for one domain with one or more keys (RFC 8463 dual signing).

    Thread-safe: it keeps no state between messages (only the folded ``h=`` of each header
    set, which a campaign repeats). The message is parsed, its body canonicalized and hashed,
    and its signed fields canonicalized once, for all the keys.
    """

    def __init__(self, domain: str, keys: Sequence[DkimKey], clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("a DkimSigner needs at least one key")
        self.domain = domain.lower().rstrip(".")
        self.keys = tuple(keys)
        self._clock = clock
        #: each key with the tags before t= (canonical: single spaces) and their folded lines
        self._heads = []
        for key in self.keys:
            head = f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={self.domain}; s={key.selector};"
            self._heads.append((key, head.encode("ascii"), _fold(head.encode("ascii"), len(_NAME))))
        self._h_tags: dict[tuple[tuple[bytes, ...], int], tuple[bytes, bytes]] = {}

    def __repr__(self) -> str:
        return f"DkimSigner({self.domain!r}, {list(self.keys)!r})"

    def signature_headers(self, message: bytes, *, crlf: bool = False) -> bytes:
        """The ``DKIM-Signature`` header lines (CRLF-terminated) for ``message``, one per key.

        Each header is hashed in relaxed canonical form (single spaces, unfolded) with ``b=``
        empty (RFC 6376 §3.7), and written folded only where that form has a space, which
        relaxed canonicalization undoes; ``b=``'s value, whose white space verifiers ignore,
        goes on lines of its own. ``crlf``: every line of ``message`` is known to end in CRLF,
        as :func:`tierii_core.mime.serialize` writes them (no look for a bare LF).
        """
        fields, body = relaxed_message(message, crlf=crlf)
        signed_names = SIGNED_HEADERS
        present = tuple([name for name, _ in fields if name in signed_names])
        if len(set(present)) == len(present):
            signed = b"".join([name + b":" + value for name, value in fields if name in signed_names])
        else:  # a field twice: h= picks its instances bottom up
            selected = select_headers(fields, present + OVERSIGNED)
            signed = b"".join([name + b":" + value for name, value in selected])
        body_hash = base64.b64encode(sha256(relaxed_body(body)))
        stamp = b"%d" % int(self._clock())
        h, folded_h = self._h_tag(present, len(stamp))
        tail = b" t=%s; %s bh=%s; b=" % (stamp, h, body_hash)
        folded_tail = b"\r\n t=%s; %s\r\n bh=%s;\r\n b=" % (stamp, folded_h, body_hash)
        out = []
        for key, head, folded_head in self._heads:
            digest = sha256(signed, b"dkim-signature:", head, tail)
            signature = base64.b64encode(key.sign_digest(digest))
            out.append(_NAME + folded_head + folded_tail + _fold_b(signature))
        return b"".join(out)

    def _h_tag(self, present: tuple[bytes, ...], stamp_length: int) -> tuple[bytes, bytes]:
        """``h=...;`` for the signed fields ``present`` (each oversigned field once more),
        unfolded and folded after `` t=STAMP; ``: remembered, a campaign's messages share it."""
        key = (present, stamp_length)
        tags = self._h_tags.get(key)
        if tags is None:
            if len(self._h_tags) > 64:  # a few header sets per campaign; never grow unbounded
                self._h_tags.clear()
            h = b"h=" + b" : ".join(present + OVERSIGNED) + b";"
            tags = self._h_tags[key] = (h, _fold(h, len(b" t=; ") + stamp_length))
        return tags

    def sign(self, message: bytes, *, crlf: bool = False) -> bytes:
        """``message`` with its ``DKIM-Signature`` header(s) in front; ``crlf`` as for
        :meth:`signature_headers`."""
        return self.signature_headers(message, crlf=crlf) + message


_NAME = b"DKIM-Signature: "
#: header lines stay within RFC 5322's 78 characters
_LINE = 78


def _fold(text: bytes, taken: int) -> bytes:
    """``text`` broken into lines at its spaces, its first line starting ``taken`` characters in
    (a single word longer than a line stays whole)."""
    lines = []
    line = b""
    width = _LINE - taken
    for word in text.split(b" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, width = word, _LINE - 1
        else:
            line = line + b" " + word if line else word
    lines.append(line)
    return b"\r\n ".join(lines)


def _fold_b(signature: bytes) -> bytes:
    """``b=``'s value after `` b=`` on its line, then on lines of its own, and the final CRLF."""
    first = _LINE - len(b" b=")
    chunks = [signature[:first]] + [
        signature[start : start + _LINE - 1] for start in range(first, len(signature), _LINE - 1)
    ]
    return b"\r\n ".join(chunk for chunk in chunks if chunk) + b"\r\n"


def signer_from_settings(settings: DkimSettings) -> DkimSigner | None:
    """The signer the settings describe, None when DKIM is not configured; ConfigurationError
    (naming the setting) when it is configured wrong."""
    if not settings.configured:
        return None
    domain = settings.domain.strip().lower().rstrip(".")
    if domain and not re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", domain):
        raise ConfigurationError(
            f"{DOMAIN}={settings.domain!r}: not a domain name (ASCII, e.g. shop.example)"
        )
    keys = load_keys(settings)
    return DkimSigner(domain, keys)
