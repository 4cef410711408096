"""DKIM through the smtp provider: `tierii send` signs every message with the configured keys
(RSA-2048 and Ed25519), the test server receives them, and dkimpy verifies each one against
the keys NSD serves on 127.0.0.1. The authenticated rule refuses unsigned marketing mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tierii_core.authcheck.resolver import DnsSettings, Lookup
from tierii_core.dkim import load_key
from tierii_core.testing.dns_server import NsdServer, require_nsd

pytestmark = pytest.mark.network

DOMAIN = "example.com"  # the campaign fixture's From is shop@example.com
SELECTORS = ("rsa2026", "ed2026")


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("dkim-keys")
    keys = [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate(),
    ]
    paths = []
    for selector, key in zip(SELECTORS, keys, strict=True):
        path = directory / f"{selector}.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def nsd(key_files: list[Path]) -> Iterator[NsdServer]:
    require_nsd()
    records = [
        (f"{selector}._domainkey", "TXT", load_key(path.read_bytes(), selector, str(path)).dns_record())
        for selector, path in zip(SELECTORS, key_files, strict=True)
    ]
    with NsdServer({DOMAIN: records}) as server:
        yield server


def test_every_message_sent_over_smtp_verifies(campaign, server, key_files, nsd) -> None:
    rows = campaign.contacts(12)
    campaign.point_at(server.port, connections="3")
    del campaign.env["TIERII_SMTP_RELAY_SIGNS"]  # TierII signs itself
    campaign.env.update(
        TIERII_DKIM_DOMAIN=DOMAIN,
        TIERII_DKIM_SELECTOR=",".join(SELECTORS),
        TIERII_DKIM_PRIVATE_KEY_FILE=",".join(str(p) for p in key_files),
        TIERII_DNS_SERVERS=nsd.address,
    )
    result = campaign.send()
    assert result.returncode == 0, result.stderr
    assert sorted(server.recipients) == sorted(row["email"] for row in rows)
    lookup = Lookup(DnsSettings(servers=nsd.address))
    for received in server.messages:
        signed = dkim.DKIM(received.data)
        assert [signed.verify(i, dnsfunc=lookup.dkimpy_txt) for i in (0, 1)] == [True, True]
        headers = [v for k, v in signed.headers if k == b"DKIM-Signature"]
        covered = dkim.util.parse_tag_value(headers[0])[b"h"].replace(b" ", b"").replace(b"\r\n", b"")
        assert b"list-unsubscribe:list-unsubscribe-post" in covered
        assert b"List-Unsubscribe-Post" in received.data
        changed = received.data.replace(b"Subject:", b"Subject: Re:", 1)
        assert not dkim.DKIM(changed).verify(0, dnsfunc=lookup.dkimpy_txt)


def test_unsigned_marketing_mail_is_refused_naming_both_ways_out(campaign, server) -> None:
    campaign.contacts(3)
    campaign.point_at(server.port)
    del campaign.env["TIERII_SMTP_RELAY_SIGNS"]
    result = campaign.send()
    assert result.returncode == 2
    assert (
        "rule authenticated: provider smtp would send marketing mail without a DKIM signature"
        in result.stderr
    )
    assert "TIERII_DKIM_PRIVATE_KEY_FILE" in result.stderr and "TIERII_SMTP_RELAY_SIGNS=true" in result.stderr
    assert server.messages == []
    transactional = campaign.send("--transactional")
    assert transactional.returncode == 0, transactional.stderr
    assert len(server.messages) == 3


def test_a_relay_that_signs_needs_no_key(campaign, server) -> None:
    campaign.contacts(2)
    campaign.point_at(server.port, relay_signs="true")
    result = campaign.send()
    assert result.returncode == 0, result.stderr
    assert all(b"DKIM-Signature" not in m.data for m in server.messages)
