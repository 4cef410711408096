"""Ed25519 through libsodium (tierii_core.dkim_ed25519) signs exactly as OpenSSL does: the
signature is deterministic (RFC 8032), so the two must give the same bytes for any digest."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_core.dkim_ed25519 import sodium_signer

from .conftest import ED25519


def _openssl(keys):
    return keys[ED25519]._key


def test_ed25519_keys_sign_through_libsodium(keys) -> None:
    """PyNaCl carries libsodium: the fast path is the one taken, not the fallback."""
    assert keys[ED25519]._ed25519 is not None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_libsodium_signs_as_openssl_does(keys, data: bytes) -> None:
    assert keys[ED25519].sign_digest(data) == _openssl(keys).sign(data)


def _seed(keys) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return _openssl(keys).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_a_libsodium_that_disagrees_with_openssl_is_not_used(keys) -> None:
    assert sodium_signer(_seed(keys), lambda data: b"\x00" * 64) is None


def test_a_seed_of_the_wrong_size_is_not_used(keys) -> None:
    assert sodium_signer(b"short", _openssl(keys).sign) is None
