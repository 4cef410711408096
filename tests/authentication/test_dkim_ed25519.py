"""Ed25519 through libsodium (tierii_core.dkim_ed25519) signs exactly as OpenSSL does: the
signature is deterministic (RFC 8032), so the two must give the same bytes for any digest.
A key in the usual PEM form is read without OpenSSL's bindings (a send's start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_core import dkim_ed25519
from tierii_core.dkim import _ed25519_seed, load_key
from tierii_core.dkim_ed25519 import sodium_signer

from .conftest import ED25519, RSA


def _openssl(keys):
    return keys[ED25519]._private


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


def test_the_usual_pem_is_read_as_openssl_reads_it(key_files, keys) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = key_files[ED25519].read_bytes()
    assert keys[ED25519]._seed is not None  # read without OpenSSL
    by_openssl = load_pem_private_key(pem, password=None)
    assert keys[ED25519].sign_digest(b"digest") == by_openssl.sign(b"digest")
    assert keys[ED25519].public_key_b64() == load_key(pem, "s", "x").public_key_b64()


@pytest.mark.parametrize(
    "change",
    [
        lambda pem: pem.replace(b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY"),
        lambda pem: pem + pem,  # two blocks
        lambda pem: pem.replace(b"MC4CAQAw", b"MC4CAQEw"),  # another version
        lambda pem: pem[:40] + b"!" + pem[41:],  # not base64
    ],
)
def test_anything_but_the_usual_pem_goes_to_openssl(key_files, change) -> None:
    assert _ed25519_seed(change(key_files[ED25519].read_bytes())) is None


def test_an_rsa_pem_goes_to_openssl(key_files) -> None:
    assert _ed25519_seed(key_files[RSA].read_bytes()) is None


def test_signing_with_the_usual_pem_does_not_load_openssl_bindings(key_files) -> None:
    """cryptography's import is ~50 ms of a send's start: an Ed25519 key does without it."""
    program = (
        "import sys; from pathlib import Path; from tierii_core.dkim import DkimSigner, load_key; "
        f"key = load_key(Path({str(key_files[ED25519])!r}).read_bytes(), 's', 'x'); "
        "DkimSigner('example.com', [key]).sign(b'From: a@example.com\\r\\n\\r\\nhi\\r\\n'); "
        "print(sorted(m for m in sys.modules if m.startswith('cryptography')))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_libsodium_that_fails_rfc_8032_is_not_used(key_files, monkeypatch) -> None:
    monkeypatch.setattr(dkim_ed25519, "_RFC8032_SIGNATURE", b"\x00" * 64)
    dkim_ed25519._passes_rfc8032.cache_clear()
    try:
        key = load_key(key_files[ED25519].read_bytes(), "s", "x")
    finally:
        monkeypatch.undo()
        dkim_ed25519._passes_rfc8032.cache_clear()
    assert key._seed is None  # read by OpenSSL, then checked against its signature
    assert key.sign_digest(b"digest") == key._private.sign(b"digest")
