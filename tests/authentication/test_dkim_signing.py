"""DKIM signatures made by TierII verify with dkimpy against keys served by NSD, and break when
the message is changed; bad keys stop the run (exit 2) naming the setting, never showing the key."""

from __future__ import annotations

import email
import mailbox
from datetime import datetime, timezone
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.authcheck.resolver import DnsSettings, Lookup
from tierii_core.cli import cli
from tierii_core.components import DeliveryProvider
from tierii_core.default_plugins.authentication import Authenticated
from tierii_core.dkim import DkimSettings, DkimSigner, signer_from_settings
from tierii_core.dkim_canonical import split_message
from tierii_core.errors import ConfigurationError
from tierii_core.models import Address, Contact, Message

from .conftest import ED25519, OTHER, RSA, SELECTORS, SHORT

DEMO = Path(__file__).resolve().parents[2] / "examples"
UNSUBSCRIBE = (
    ("List-Unsubscribe", "<https://greenleaf.example/unsubscribe?t=abc>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
)


def message(name: str = "Zoë Ünïcode", subject: str = "Your restock is in", text: str = "Hi\n") -> Message:
    return Message(
        contact=Contact("zoe@example.net"),
        sender=Address("hello@greenleaf.example", "Green Leaf"),
        to=Address("zoe@example.net", name),
        subject=subject,
        text=text,
        message_id="<1@greenleaf.example>",
        date=datetime(2026, 4, 20, 16, 20, tzinfo=timezone.utc),
        html="<p>Hi</p>",
        reply_to=Address("team@greenleaf.example"),
        headers=UNSUBSCRIBE,
    )


@pytest.fixture
def lookup(nsd) -> Lookup:
    return Lookup(DnsSettings(servers=nsd.address))


def signer_of(keys, *names: str, domain: str = "greenleaf.example") -> DkimSigner:
    return DkimSigner(domain, [keys[n] for n in names])


def verified(data: bytes, lookup: Lookup) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature of ``data``, keys fetched from the test server."""
    count = data.count(b"\r\nDKIM-Signature:") + data.startswith(b"DKIM-Signature:")
    return [_verify(data, index, lookup) for index in range(count)]


def _verify(data: bytes, index: int, lookup: Lookup) -> bool:
    try:
        return dkim.DKIM(data).verify(index, dnsfunc=lookup.dkimpy_txt)
    except dkim.ValidationError:  # dkimpy raises for a body hash mismatch
        return False


@pytest.mark.parametrize("names", [(RSA,), (ED25519,), (RSA, ED25519)], ids=["rsa", "ed25519", "dual"])
def test_signatures_verify_against_the_published_keys(keys, lookup: Lookup, names: tuple[str, ...]) -> None:
    data = signer_of(keys, *names).sign(message().as_bytes())
    assert verified(data, lookup) == [True] * len(names)
    algorithms = [
        dkim.util.parse_tag_value(v)[b"a"] for k, v in dkim.DKIM(data).headers if k == b"DKIM-Signature"
    ]
    assert algorithms == [keys[n].algorithm.encode() for n in names]


def test_h_covers_the_unsubscribe_headers_and_oversigns_from(keys) -> None:
    data = signer_of(keys, RSA).sign(message().as_bytes())
    [(_, value)] = [(k, v) for k, v in dkim.DKIM(data).headers if k == b"DKIM-Signature"]
    tags = dkim.util.parse_tag_value(value)
    signed = [h.strip() for h in tags[b"h"].replace(b"\r\n", b"").split(b":")]
    for name in (
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
        b"reply-to",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    ):
        assert name in signed, name
    assert signed.count(b"from") == 2  # one more than there is: a From added later breaks it
    assert (tags[b"c"], tags[b"d"], tags[b"s"]) == (b"relaxed/relaxed", b"greenleaf.example", b"rsa2026")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.replace(b"Hi\r\n", b"Hj\r\n", 1),
        lambda d: d.replace(b"Subject: Your restock", b"Subject: Your restocK", 1),
        lambda d: d.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x", 1
        ),
        lambda d: d.replace(b"Date:", b"From: Someone Else <ceo@greenleaf.example>\r\nDate:", 1),
    ],
    ids=["body byte", "covered header", "unsubscribe-post", "second From"],
)
def test_a_changed_message_no_longer_verifies(keys, lookup: Lookup, tamper) -> None:
    data = signer_of(keys, RSA, ED25519).sign(message().as_bytes())
    changed = tamper(data)
    assert changed != data
    assert verified(changed, lookup) == [False, False]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    name=st.text(max_size=80),
    subject=st.text(max_size=300),
    text=st.text(max_size=500),
)
def test_any_contact_values_give_messages_that_verify(keys, lookup: Lookup, name, subject, text) -> None:
    unsigned = message(name, subject, text).as_bytes()
    headers, body = dkim.rfc822_parse(unsigned)
    assert split_message(unsigned) == ([tuple(h) for h in headers], body)  # read as dkimpy reads it
    data = signer_of(keys, RSA, ED25519).sign(unsigned)
    assert verified(data, lookup) == [True, True]


# -- keys and settings -------------------------------------------------------------------------


def _settings(**values: str) -> DkimSettings:
    from tierii_core.models import Secret

    if "private_key" in values:
        values["private_key"] = Secret(values["private_key"])  # type: ignore[assignment]
    return DkimSettings(**{"domain": "greenleaf.example", "selector": "s1", **values})


def test_the_pem_text_itself_may_be_given_as_a_secret(key_files) -> None:
    pem = key_files[RSA].read_text() + key_files[ED25519].read_text()
    signer = signer_from_settings(_settings(selector="a,b", private_key=pem))
    assert [(k.selector, k.algorithm) for k in signer.keys] == [("a", "rsa-sha256"), ("b", "ed25519-sha256")]
    assert "PRIVATE" not in repr(signer)


def test_ed25519_pem_is_converted_for_dkimpy(keys) -> None:
    """openssl's Ed25519 PEM is what users have; dkimpy takes the base64 raw seed."""
    import base64

    raw = base64.b64decode(keys[ED25519].dkimpy_private_key())
    assert len(raw) == 32


def _ec_key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _encrypted(key_files, tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_files[RSA].read_bytes(), None)
    path = tmp_path / "encrypted.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass"),
        )
    )
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda f, t: str(t / "missing.pem"),
            "TIERII_DKIM_PRIVATE_KEY_FILE ({}): cannot read the key: No such file",
        ),
        (lambda f, t: str(t), "TIERII_DKIM_PRIVATE_KEY_FILE ({}): cannot read the key: Is a directory"),
        (
            lambda f, t: str(f[SHORT]),
            "TIERII_DKIM_PRIVATE_KEY_FILE ({}): the RSA key has 1024 bits; DKIM needs",
        ),
        (
            lambda f, t: str(_ec_key(t)),
            "TIERII_DKIM_PRIVATE_KEY_FILE ({}): an elliptic-curve (ECDSA) key; DKIM keys",
        ),
        (
            lambda f, t: str(_encrypted(f, t)),
            "TIERII_DKIM_PRIVATE_KEY_FILE ({}): the private key is encrypted",
        ),
        (lambda f, t: str(DEMO / "contacts.csv"), "TIERII_DKIM_PRIVATE_KEY_FILE ({}): not a PEM private key"),
    ],
    ids=["missing", "directory", "too short", "not rsa or ed25519", "encrypted", "not a key"],
)
def test_a_bad_key_file_names_the_setting(key_files, tmp_path: Path, make, expected: str) -> None:
    path = make(key_files, tmp_path)
    with pytest.raises(ConfigurationError) as raised:
        signer_from_settings(_settings(private_key_file=path))
    assert str(raised.value).startswith(expected.format(path))


def test_a_bad_key_text_names_the_setting_and_never_shows_it(key_files) -> None:
    pem = key_files[SHORT].read_text()
    with pytest.raises(ConfigurationError) as raised:
        signer_from_settings(_settings(private_key=pem))
    assert str(raised.value) == "TIERII_DKIM_PRIVATE_KEY: the RSA key has 1024 bits; DKIM needs at least 2048"
    body = pem.splitlines()[1]
    garbled = pem.replace(body, body[::-1])
    with pytest.raises(ConfigurationError) as raised:
        signer_from_settings(_settings(private_key=garbled))
    assert str(raised.value).startswith("TIERII_DKIM_PRIVATE_KEY: not a PEM private key")
    assert body[:20] not in str(raised.value) and body[::-1][:20] not in str(raised.value)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"selector": "a,b"}, "TIERII_DKIM_SELECTOR='a,b': 2 selector(s) for 1 key(s)"),
        ({"selector": "bad selector"}, "TIERII_DKIM_SELECTOR='bad selector': not a valid selector"),
        ({"domain": ""}, "TIERII_DKIM_DOMAIN is not set"),
        ({"domain": "not a domain"}, "TIERII_DKIM_DOMAIN='not a domain': not a domain name"),
    ],
)
def test_inconsistent_settings_name_the_setting(key_files, values: dict, expected: str) -> None:
    with pytest.raises(ConfigurationError, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        signer_from_settings(_settings(private_key_file=str(key_files[RSA]), **values))


def test_a_domain_without_a_key_is_half_configured() -> None:
    with pytest.raises(ConfigurationError, match="DKIM is half configured: set TIERII_DKIM_PRIVATE_KEY_FILE"):
        signer_from_settings(DkimSettings(domain="greenleaf.example", selector="s1"))
    assert signer_from_settings(DkimSettings()) is None


# -- the authenticated rule --------------------------------------------------------------------


class _Relay(DeliveryProvider):
    name = "relay"
    dkim_signs = True


class _Api(DeliveryProvider):
    name = "api"
    signs_for_sender = True


class _Outbox(DeliveryProvider):
    name = "local"
    delivers = False


def test_the_authenticated_rule_refuses_unsigned_marketing_mail(keys) -> None:
    rule = Authenticated(None, None)
    relay = _Relay(None, None)
    reason = rule.check_providers([_Api(None, None), relay])
    assert reason is not None and reason.startswith("provider relay would send marketing mail without a DKIM")
    assert "TIERII_DKIM_PRIVATE_KEY_FILE" in reason and "TIERII_SMTP_RELAY_SIGNS=true" in reason
    relay.signer = signer_of(keys, RSA)
    assert rule.check_providers([_Api(None, None), relay]) is None
    assert rule.check_providers([_Outbox(None, None)]) is None  # delivers nowhere


# -- end to end: the README's demo with a key --------------------------------------------------


def send_demo(*extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        [
            "--env-file",
            str(DEMO / ".env.example"),
            "send",
            str(DEMO / "contacts.csv"),
            "-t",
            str(DEMO / "welcome.mustache"),
            "--html",
            str(DEMO / "welcome.html.mustache"),
            *extra,
        ],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def outbox(directory: Path) -> list[bytes]:
    box = mailbox.Maildir(str(directory), factory=None, create=False)
    return [box.get_bytes(key) for key in box.iterkeys()]


def test_the_demo_campaign_is_dual_signed_when_keys_are_set(
    key_files, dns_env, lookup: Lookup, monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("TIERII_DKIM_DOMAIN", "greenleaf.example")
    monkeypatch.setenv("TIERII_DKIM_SELECTOR", f"{SELECTORS[RSA]},{SELECTORS[ED25519]}")
    monkeypatch.setenv("TIERII_DKIM_PRIVATE_KEY_FILE", f"{key_files[RSA]},{key_files[ED25519]}")
    code, out, err = send_demo()
    assert code == 0, err
    messages = outbox(clean_environment / "outbox")
    assert len(messages) == 20
    for data in messages:
        assert verified(data, lookup) == [True, True]
        assert email.message_from_bytes(data)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "rules checked: " in out and "dkim-aligned" in out


def test_a_from_domain_not_aligned_with_the_key_stops_the_run(
    key_files, monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("TIERII_DKIM_DOMAIN", "other.example")
    monkeypatch.setenv("TIERII_DKIM_SELECTOR", SELECTORS[OTHER])
    monkeypatch.setenv("TIERII_DKIM_PRIVATE_KEY_FILE", str(key_files[OTHER]))
    code, _, err = send_demo()
    assert code == 2
    assert "the From domain greenleaf.example (organisational domain greenleaf.example) does not align" in err
    assert "TIERII_DKIM_DOMAIN=other.example" in err
    assert not (clean_environment / "outbox").exists() or not outbox(clean_environment / "outbox")


def test_a_bad_key_stops_the_run_and_is_never_shown(
    key_files, monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    pem = key_files[SHORT].read_text()
    monkeypatch.setenv("TIERII_DKIM_DOMAIN", "greenleaf.example")
    monkeypatch.setenv("TIERII_DKIM_SELECTOR", "s1")
    monkeypatch.setenv("TIERII_DKIM_PRIVATE_KEY", pem)
    code, out, err = send_demo()
    assert code == 2
    assert "error: TIERII_DKIM_PRIVATE_KEY: the RSA key has 1024 bits" in err
    secret_line = pem.splitlines()[1]
    assert secret_line not in out + err
    result = CliRunner().invoke(cli, ["check"], catch_exceptions=False)
    assert "TIERII_DKIM_PRIVATE_KEY = ********  (environment)" in result.stdout
    assert secret_line not in result.stdout + result.stderr
    assert result.exit_code == 2 and "TIERII_DKIM_PRIVATE_KEY: the RSA key has 1024 bits" in result.stderr


@pytest.mark.parametrize(
    ("name", "command"),
    [
        (RSA, "openssl pkey -in {} -pubout -outform DER | openssl base64 -A"),
        (ED25519, "openssl pkey -in {} -pubout -outform DER | tail -c 32 | openssl base64 -A"),
    ],
)
def test_the_documented_openssl_commands_print_the_dns_p_value(
    keys, key_files, name: str, command: str
) -> None:
    import subprocess

    assert command in (DEMO.parent / "docs" / "authentication.md").read_text(encoding="utf-8").replace(
        f"dkim-{'rsa' if name == RSA else 'ed25519'}.pem", "{}"
    )
    printed = subprocess.run(
        ["bash", "-c", command.format(key_files[name])], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed == keys[name].public_key_b64()


def test_check_says_a_provider_that_signs_itself_ignores_the_key(key_files) -> None:
    from tierii_core.sender_auth import dkim_steps
    from tierii_core.settings import SettingsReader

    reader = SettingsReader(
        {
            "TIERII_DKIM_DOMAIN": "greenleaf.example",
            "TIERII_DKIM_SELECTOR": "rsa2026",
            "TIERII_DKIM_PRIVATE_KEY_FILE": str(key_files[RSA]),
        }
    )
    [step] = dkim_steps(_Api(None, None), reader)
    assert (
        step.ok and step.detail == "api signs with your own domain itself; TIERII_DKIM_* is not used with it"
    )
    [step] = dkim_steps(_Relay(None, None), reader)
    assert step.detail == "signing as d=greenleaf.example, s=rsa2026 (rsa-sha256, 2048 bits)"
