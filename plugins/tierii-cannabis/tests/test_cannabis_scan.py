"""The claim scanner: one pass over the text gives the answer of one pass per pattern."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.model import Claim, claim_pattern
from tierii_cannabis.plugin import pack_rules
from tierii_cannabis.scan import ClaimScanner

PACKS = pack_rules()
PHRASES = sorted({e for cls in PACKS for c in cls.pack.claims for e in (*c.examples, *c.counterexamples)})


def claim(name: str, pattern: str) -> Claim:
    return Claim(name, pattern, f"reason {name}", f"source {name}", claim_pattern(pattern))


class OnePatternAtATime(ClaimScanner):
    """The reference: the same scanner with joining turned off."""

    def __init__(self, claims: tuple[Claim, ...]) -> None:
        super().__init__(claims)
        self._joined = None


def test_shipped_packs_are_scanned_in_one_pass() -> None:
    assert all(cls.scanner._joined is not None for cls in PACKS)


def test_the_claim_that_starts_first_is_reported() -> None:
    scanner = ClaimScanner([claim("b", "beta"), claim("a", "alpha")])
    assert scanner.first("alpha then beta") == (scanner.claims[1], "alpha")
    assert OnePatternAtATime(scanner.claims).first("alpha then beta") == (scanner.claims[1], "alpha")


def test_at_the_same_place_the_first_claim_of_the_pack_wins() -> None:
    scanner = ClaimScanner([claim("short", "free"), claim("long", "free gift")])
    assert scanner.first("a free gift")[0].id == "short"
    assert OnePatternAtATime(scanner.claims).first("a free gift")[0].id == "short"


def test_patterns_with_backreferences_are_scanned_one_at_a_time() -> None:
    scanner = ClaimScanner([claim("x", "candy"), claim("repeat", r"(\w+) \1")])
    assert scanner._joined is None
    assert scanner.first("it is what it is, so so good") == (scanner.claims[1], "so so")


@given(st.lists(st.sampled_from([*PHRASES, "hello", "the", "free", "safe", "tested", ".", ","]), max_size=12))
def test_one_pass_agrees_with_one_pattern_at_a_time(words: list[str]) -> None:
    text = re.sub(r"\s+", " ", " ".join(words))
    for cls in PACKS:
        assert cls.scanner.first(text) == OnePatternAtATime(cls.pack.claims).first(text)
