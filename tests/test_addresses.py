"""The fast path for plain addresses gives email-validator's answers."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from tierii_core.addresses import InvalidAddress, normalise_address

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-."
local = st.text(st.sampled_from(ATEXT), min_size=1, max_size=70)
label = st.text(st.sampled_from("abcXYZ019-"), min_size=1, max_size=65)
domain = st.lists(label, min_size=1, max_size=4).map(".".join)
tld = st.sampled_from(["com", "ORG", "io", "test", "local", "xn--p1ai", "c", "example"])


def reference(text: str) -> str | None:
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return valid.ascii_email or valid.normalized


def ours(text: str) -> str | None:
    try:
        return normalise_address(text)
    except InvalidAddress:
        return None


@given(local=local, domain=domain, tld=tld)
@example(local="a..b", domain="example", tld="com")
@example(local="a", domain="-bad", tld="com")
@example(local="x" * 65, domain="example", tld="com")
@example(local="a", domain="localhost", tld="test")
@example(local="0", domain="00--0", tld="com")
@example(local="a", domain="xn--bcher-kva", tld="example")
def test_same_answer_as_email_validator(local: str, domain: str, tld: str) -> None:
    text = f"{local}@{domain}.{tld}"
    assert ours(text) == reference(text)


@given(st.emails())
def test_every_generated_address_is_accepted_as_email_validator_does(text: str) -> None:
    assert ours(text) == reference(text)


@pytest.mark.parametrize(
    ("text", "normal"),
    [("Ana.B@Example.COM", "Ana.B@example.com"), ("user@bücher.example", "user@xn--bcher-kva.example")],
)
def test_normalisation(text: str, normal: str) -> None:
    assert normalise_address(text) == normal


@pytest.mark.parametrize("bad", ["zoë@example.com", "no-at", "a@b", "a@localhost", ""])
def test_refusals_explain(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        normalise_address(bad)


def test_the_special_use_domains_are_email_validators() -> None:
    import email_validator

    from tierii_core.addresses import SPECIAL_USE_DOMAINS

    assert sorted(SPECIAL_USE_DOMAINS) == sorted(email_validator.SPECIAL_USE_DOMAIN_NAMES)
