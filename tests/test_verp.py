"""VERP return paths (tierii_core.verp) and TIERII_RETURN_PATH."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.errors import SettingsError
from tierii_core.settings import CoreSettings, SettingsReader
from tierii_core.verp import MAX_LOCAL_PART, decode, encode

RETURN_PATH = "bounces@shop.example"


@given(st.emails())
def test_a_tagged_return_path_decodes_to_its_recipient(recipient: str) -> None:
    tagged = encode(RETURN_PATH, recipient)
    if tagged == RETURN_PATH:  # too long for a local part: the plain return path
        assert not recipient.isascii() or len("bounces+" + recipient) > MAX_LOCAL_PART
        return
    assert tagged.endswith("@shop.example") and len(tagged.rpartition("@")[0]) <= MAX_LOCAL_PART
    local, _, domain = recipient.lower().rpartition("@")
    assert decode(RETURN_PATH, tagged) == f"{local}@{domain.encode('idna').decode()}"


def test_the_usual_shape() -> None:
    assert encode(RETURN_PATH, "Ana@Example.com") == "bounces+ana=example.com@shop.example"
    assert decode(RETURN_PATH, "<Bounces+ana=example.com@Shop.Example>") == "ana@example.com"


@pytest.mark.parametrize(
    "recipient",
    ["zoë@example.com", "a" * 60 + "@example.com"],
    ids=["needs SMTPUTF8", "local part over 64"],
)
def test_where_a_tag_would_break_the_rules_the_plain_return_path_is_used(recipient: str) -> None:
    assert encode(RETURN_PATH, recipient) == RETURN_PATH


@pytest.mark.parametrize(
    "address",
    ["bounces@shop.example", "other+ana=example.com@shop.example", "bounces+ana=x@elsewhere.example"],
)
def test_other_addresses_are_not_ours(address: str) -> None:
    assert decode(RETURN_PATH, address) is None


@pytest.mark.parametrize("value", ["Shop <bounces@shop.example>", "bounces+x@shop.example", "bounces"])
def test_a_bad_return_path_is_named(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_RETURN_PATH", value)
    with pytest.raises(SettingsError, match="TIERII_RETURN_PATH"):
        SettingsReader().load(CoreSettings)
