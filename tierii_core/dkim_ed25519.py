"""Ed25519 signatures through libsodium, called with the GIL held.

Ed25519 is deterministic (RFC 8032): every correct implementation gives the same signature
for the same key and data, so which library makes it does not show in the message. On the
send path it was the signer's largest cost: OpenSSL through ``cryptography`` takes ~31 µs
per signature on the benchmark machine, libsodium ~18 µs. PyNaCl (a dependency already,
for dkimpy's Ed25519 verification) carries libsodium, but its bindings (cffi) let go of the
GIL around every call; a sending thread that does so waits for it again behind the thread
that renders messages, up to the interpreter's switch interval (5 ms), which cost far more
than the signature. So the function is called through ``ctypes.PyDLL``, which keeps the GIL.

The library is PyNaCl's own extension module (its wheels link libsodium into it, the
``crypto_sign_*`` functions exported) or the system's libsodium. A key read from the usual
PEM (``openssl genpkey``) is checked by RFC 8032's test signature and never loads
``cryptography`` (~50 ms of a send's start); one that ``cryptography`` loaded is checked
against OpenSSL's signature. When libsodium is not there or fails its check,
:func:`sodium_signer` returns None and the key signs through ``cryptography`` as before.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
import importlib.util
import os
from collections.abc import Callable

_SIGNATURE = 64
_SECRET = 64  # libsodium's secret key: the 32-byte seed, then the public key
_PROBE = b"tierii: libsodium and OpenSSL agree on this digest"
#: RFC 8032 section 7.1, TEST 1: a secret key and its signature of the empty message
_RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
_RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.PyDLL | None:
    """libsodium loaded so that its functions keep the GIL, or None."""
    for path in [*_pynacl_modules(), None]:
        if path is None:  # pragma: no cover - depends on the machine
            from ctypes.util import find_library  # ~10 ms and a search: only when PyNaCl has none

            path = find_library("sodium")
            if not path:
                break
        try:
            library = ctypes.PyDLL(path)
            init = library.sodium_init
            seed_keypair = library.crypto_sign_ed25519_seed_keypair
            detached = library.crypto_sign_ed25519_detached
        except (OSError, AttributeError):  # pragma: no cover - a build that does not export them
            continue
        init.restype = ctypes.c_int
        if init() < 0:  # pragma: no cover - 0 first time, 1 when already done, -1 failure
            continue
        seed_keypair.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)
        seed_keypair.restype = ctypes.c_int
        detached.argtypes = (
            ctypes.c_char_p,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_ulonglong,
            ctypes.c_char_p,
        )
        detached.restype = ctypes.c_int
        return library
    return None  # pragma: no cover - depends on the machine


def _pynacl_modules() -> list[str]:
    """The paths of PyNaCl's extension module, found without importing PyNaCl (cffi, ~ms)."""
    spec = importlib.util.find_spec("nacl")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        return []
    return [
        os.path.join(folder, "_sodium" + suffix)
        for folder in spec.submodule_search_locations
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if os.path.isfile(os.path.join(folder, "_sodium" + suffix))
    ]


def sodium_signer(
    seed: bytes, reference: Callable[[bytes], bytes] | None = None
) -> Callable[[bytes], bytes] | None:
    """A function signing data with the Ed25519 key of ``seed`` (its 32 raw bytes) through
    libsodium, or None when libsodium is not there or does not sign as ``reference`` (the
    same key through OpenSSL) does; without a reference, libsodium must make RFC 8032's own
    test signature (section 7.1, TEST 1)."""
    library = _library()
    if library is None or len(seed) != 32:
        return None
    sign = _signer(library, seed)
    try:
        if reference is None:
            agrees = _passes_rfc8032(library)
        else:
            agrees = sign is not None and sign(_PROBE) == reference(_PROBE)
    except (ctypes.ArgumentError, ValueError):  # pragma: no cover - a libsodium we cannot call
        return None
    return sign if agrees else None


@functools.lru_cache(maxsize=1)
def _passes_rfc8032(library: ctypes.PyDLL) -> bool:
    test = _signer(library, _RFC8032_SEED)
    return test is not None and test(b"") == _RFC8032_SIGNATURE


def _signer(library: ctypes.PyDLL, seed: bytes) -> Callable[[bytes], bytes] | None:
    public = ctypes.create_string_buffer(32)
    secret = ctypes.create_string_buffer(_SECRET)
    if library.crypto_sign_ed25519_seed_keypair(public, secret, seed) != 0:  # pragma: no cover
        return None
    detached = library.crypto_sign_ed25519_detached
    buffer = ctypes.c_char * _SIGNATURE  # a fresh one per call: several threads sign at once

    def sign(data: bytes) -> bytes:
        signature = buffer()
        if detached(signature, None, data, len(data), secret) != 0:  # pragma: no cover
            raise ValueError("libsodium could not sign")
        return signature.raw

    return sign
