"""`tierii check --auth` against NSD serving one zone per scenario: exit codes and named problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli

from .conftest import ED25519, RSA, SELECTORS


def check_auth(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--auth", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def signing(dns_env, key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch):
    """Dual signing (RSA + Ed25519) for a domain the test chooses."""

    def configure(domain: str) -> None:
        monkeypatch.setenv("TIERII_DKIM_DOMAIN", domain)
        monkeypatch.setenv("TIERII_DKIM_SELECTOR", f"{SELECTORS[RSA]},{SELECTORS[ED25519]}")
        monkeypatch.setenv("TIERII_DKIM_PRIVATE_KEY_FILE", f"{key_files[RSA]},{key_files[ED25519]}")

    return configure


def test_everything_in_place_exits_0(signing) -> None:
    signing("good.example")
    code, out, _ = check_auth("good.example")
    assert code == 0, out
    assert '  ok   spf: "v=spf1 ip4:127.0.0.1 -all": parses; -all; 0 of 10 DNS lookups' in out
    assert "rsa2026._domainkey.good.example (rsa-sha256, 2048 bits): the record matches" in out
    assert "ed2026._domainkey.good.example (ed25519-sha256, 256 bits): the record matches" in out
    assert "p=reject, rua=mailto:dmarc@good.example" in out
    assert "DKIM d=good.example: aligned (relaxed)" in out
    assert "verdict: good.example meets the Gmail and Yahoo bulk-sender rules" in out
    assert "FAIL" not in out


def test_the_domain_defaults_to_the_from_domain(signing, monkeypatch: pytest.MonkeyPatch) -> None:
    signing("good.example")
    monkeypatch.setenv("TIERII_FROM_EMAIL", "hello@good.example")
    code, out, _ = check_auth()
    assert code == 0 and "sender authentication for good.example" in out


def test_a_subdomain_from_aligns_with_its_organisational_domain(signing) -> None:
    signing("good.example")
    # news.good.example has no records of its own: DMARC comes from the organisational domain
    code, out, _ = check_auth("news.good.example")
    assert "_dmarc.good.example" in out
    assert "From news.good.example, DKIM d=good.example: aligned (relaxed)" in out
    assert code == 1 and "news.good.example: no SPF record" in out


@pytest.mark.parametrize(
    ("domain", "area", "problem"),
    [
        ("nospf.example", "spf", "nospf.example: no SPF record: publish a TXT record at nospf.example"),
        ("plusall.example", "spf", "'+all' lets every host on the Internet send as you"),
        ("lookups.example", "spf", "11 DNS lookups, over RFC 7208's limit of 10"),
        ("otherkey.example", "dkim", "the record's p= is another key"),
        ("nodmarc.example", "dmarc", "_dmarc.nodmarc.example: no DMARC record: publish a TXT record"),
    ],
)
def test_each_problem_exits_1_and_is_named(signing, domain: str, area: str, problem: str) -> None:
    signing(domain)
    code, out, _ = check_auth(domain)
    assert code == 1, out
    failed = [line for line in out.splitlines() if line.startswith("  FAIL")]
    assert failed and all(line.startswith(f"  FAIL {area}: ") for line in failed), out
    assert any(problem in line for line in failed)
    assert (
        f"verdict: {domain} does not meet the Gmail and Yahoo bulk-sender rules (2024). To fix: {area}: "
        in out
    )


def test_dmarc_p_none_passes_with_advice(signing) -> None:
    """p=none is what Gmail and Yahoo require at least: exit 0, with advice to tighten it."""
    signing("pnone.example")
    code, out, _ = check_auth("pnone.example")
    assert code == 0, out
    assert "p=none, rua=none" in out
    assert "note DMARC p=none only monitors" in out
    assert "note DMARC has no rua=" in out


def test_a_from_domain_not_aligned_with_the_dkim_domain_exits_1_naming_both(signing) -> None:
    signing("other.example")
    code, out, _ = check_auth("good.example")
    assert code == 1
    assert (
        "FAIL alignment: From good.example, DKIM d=other.example (relaxed): the From domain good.example "
        "and the DKIM domain other.example (TIERII_DKIM_DOMAIN) do not align"
    ) in out


def test_no_key_configured_is_a_dkim_problem(dns_env) -> None:
    code, out, _ = check_auth("good.example")
    assert code == 1
    assert "FAIL dkim: no DKIM key configured: configure a key: TIERII_DKIM_DOMAIN" in out


def test_the_smtp_relay_address_is_evaluated(signing, monkeypatch: pytest.MonkeyPatch) -> None:
    signing("good.example")
    monkeypatch.setenv("TIERII_SMTP_HOST", "relay.good.example")  # resolved through the test server
    code, out, _ = check_auth("good.example", "--provider", "smtp")
    assert code == 0, out
    assert "relay 127.0.0.1: pass (ip4:127.0.0.1)" in out
    monkeypatch.setenv("TIERII_SMTP_HOST", "elsewhere.good.example")
    code, out, _ = check_auth("good.example", "--provider", "smtp")
    assert code == 1
    assert "relay 192.0.2.7: fail" in out and "the SMTP relay's address 192.0.2.7 is not permitted" in out


def test_a_relay_that_signs_is_trusted_for_dkim(dns_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_SMTP_HOST", "relay.good.example")
    monkeypatch.setenv("TIERII_SMTP_RELAY_SIGNS", "true")
    code, out, _ = check_auth("good.example", "--provider", "smtp")
    assert code == 0, out
    assert "ok   dkim: smtp signs your mail with the domain you verified there" in out


def test_json_holds_the_same_findings(signing) -> None:
    signing("plusall.example")
    code, out, _ = check_auth("plusall.example", "--json")
    data = json.loads(out)
    assert code == data["exit_code"] == 1 and data["ok"] is False
    assert data["domain"] == "plusall.example" and data["provider"] == "outbox"
    spf = next(f for f in data["findings"] if f["area"] == "spf")
    assert spf["ok"] is False and "+all" in spf["problem"]
    assert {f["area"] for f in data["findings"]} == {"spf", "dkim", "dmarc", "alignment"}
    assert any("one-click unsubscribe" in line for line in data["advice"])


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (
            "TIERII_DNS_SERVERS",
            "dns.example",
            "TIERII_DNS_SERVERS='dns.example': 'dns.example' is not IP[:PORT]",
        ),
        (
            "TIERII_DKIM_PRIVATE_KEY_FILE",
            "/nonexistent/key.pem",
            "TIERII_DKIM_PRIVATE_KEY_FILE (/nonexistent",
        ),
    ],
)
def test_usage_errors_exit_2(
    signing, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, expected: str
) -> None:
    signing("good.example")
    monkeypatch.setenv(setting, value)
    code, _, err = check_auth("good.example")
    assert code == 2 and expected in err


def test_no_domain_and_no_from_address_is_a_usage_error(dns_env) -> None:
    code, _, err = check_auth()
    assert code == 2 and "give the DOMAIN to check, or set TIERII_FROM_EMAIL" in err


def test_a_dns_server_that_does_not_answer_exits_3(signing, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    signing("good.example")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        monkeypatch.setenv("TIERII_DNS_SERVERS", f"127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("TIERII_DNS_TIMEOUT", "0.3")
        code, out, _ = check_auth("good.example")
    assert code == 3
    assert "FAIL spf: good.example: no answer: the SPF lookup failed" in out
    assert "verdict: DNS did not answer every question about good.example: nothing is judged" in out
