"""Keys made with the documented openssl commands, and NSD on 127.0.0.1 serving one zone per
scenario of ``tierii check --auth`` (docs/authentication.md)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierii_core.dkim import DkimKey, load_key
from tierii_core.testing.dns_server import NsdServer, require_nsd

RSA, ED25519, OTHER, SHORT = "rsa", "ed25519", "other", "short"
GENPKEY = {
    RSA: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    ED25519: ["-algorithm", "ED25519"],
    OTHER: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    SHORT: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
}
SELECTORS = {RSA: "rsa2026", ED25519: "ed2026", OTHER: "rsa2026"}
RELAY_OK = "127.0.0.1"
GOOD_SPF = f"v=spf1 ip4:{RELAY_OK} -all"


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files from ``openssl genpkey`` (docs/authentication.md), one per kind."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is missing")
    directory = tmp_path_factory.mktemp("keys")
    files = {}
    for name, options in GENPKEY.items():
        path = directory / f"{name}.pem"
        subprocess.run([openssl, "genpkey", *options, "-out", str(path)], check=True, capture_output=True)
        files[name] = path
    return files


@pytest.fixture(scope="session")
def keys(key_files: dict[str, Path]) -> dict[str, DkimKey]:
    return {
        name: load_key(path.read_bytes(), SELECTORS[name], name)
        for name, path in key_files.items()
        if name in SELECTORS
    }


def _dkim_records(keys: dict[str, DkimKey], *names: str) -> list[tuple[str, str, str]]:
    return [(f"{keys[n].selector}._domainkey", "TXT", keys[n].dns_record()) for n in names]


def _dmarc(domain: str, policy: str = "reject") -> tuple[str, str, str]:
    return ("_dmarc", "TXT", f"v=DMARC1; p={policy}; rua=mailto:dmarc@{domain}")


@pytest.fixture(scope="session")
def zones(keys: dict[str, DkimKey]) -> dict[str, list[tuple[str, str, str]]]:
    """One zone per scenario; every one publishes the RSA and Ed25519 keys unless it is about them."""
    dkim = _dkim_records(keys, RSA, ED25519)
    many = [("@", "TXT", "v=spf1 " + " ".join(f"include:i{n}.lookups.example" for n in range(11)) + " -all")]
    many += [(f"i{n}", "TXT", "v=spf1 ip4:192.0.2.1 -all") for n in range(11)]
    return {
        "good.example": [
            ("@", "TXT", GOOD_SPF),
            ("@", "TXT", "google-site-verification=unrelated"),
            ("relay", "A", RELAY_OK),
            ("elsewhere", "A", "192.0.2.7"),
            _dmarc("good.example"),
            *dkim,
        ],
        "nospf.example": [_dmarc("nospf.example"), *dkim],
        "plusall.example": [("@", "TXT", "v=spf1 +all"), _dmarc("plusall.example"), *dkim],
        "lookups.example": [*many, _dmarc("lookups.example"), *dkim],
        "otherkey.example": [
            ("@", "TXT", GOOD_SPF),
            _dmarc("otherkey.example"),
            *_dkim_records(keys, OTHER),
        ],
        "nodmarc.example": [("@", "TXT", GOOD_SPF), *dkim],
        "pnone.example": [("@", "TXT", GOOD_SPF), ("_dmarc", "TXT", "v=DMARC1; p=none"), *dkim],
        "other.example": [("@", "TXT", GOOD_SPF), _dmarc("other.example"), *dkim],
        "greenleaf.example": [("@", "TXT", GOOD_SPF), _dmarc("greenleaf.example"), *dkim],
    }


@pytest.fixture(scope="session")
def nsd(zones: dict[str, list[tuple[str, str, str]]]) -> Iterator[NsdServer]:
    require_nsd()
    with NsdServer(zones) as server:
        yield server


@pytest.fixture
def dns_env(nsd: NsdServer, monkeypatch: pytest.MonkeyPatch) -> NsdServer:
    """TIERII_DNS_SERVERS pointing at the test server (after the environment was cleaned)."""
    monkeypatch.setenv("TIERII_DNS_SERVERS", nsd.address)
    return nsd
