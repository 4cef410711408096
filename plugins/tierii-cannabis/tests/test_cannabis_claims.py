"""Banned claims: each pattern with what it refuses and what it lets through."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_cannabis.plugin import pack_rules
from tierii_cannabis.rules import PackRule
from tierii_cannabis.stores import single_store
from tierii_core.models import Message

MakeRule = Callable[..., PackRule]
MakeMessage = Callable[..., Message]

CLAIMS = [(cls.name, claim) for cls in pack_rules() for claim in cls.pack.claims]


def refusal(rule: PackRule, message: Message) -> str | None:
    return rule.check_message(message)


@pytest.fixture
def claims_only(make_rule: MakeRule) -> Callable[[str], PackRule]:
    """A pack's rule for transactional mail: only the claim checks look at the message."""
    return lambda name: make_rule(name, transactional=True)


@pytest.mark.parametrize(("pack", "claim"), CLAIMS, ids=[f"{p}:{c.id}" for p, c in CLAIMS])
def test_every_claim_documents_and_passes_its_examples(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, pack: str, claim: object
) -> None:
    assert claim.examples and claim.counterexamples, (
        f"{pack}: claim {claim.id} needs examples and counterexamples"
    )
    rule = claims_only(pack)
    for example in claim.examples:
        reason = rule.check_message(make_message(text=f"Hello. {example} See you soon."))
        assert reason is not None and claim.reason in reason and claim.source in reason, (example, reason)
    for counter in claim.counterexamples:
        assert claim.search(counter) is None, counter


@pytest.mark.parametrize(
    "text",
    ["Try our candy gummies", "CANDY", "new candies", "Kandy Kush", "kandeez", "cotton-candy flavour"],
)
def test_candy_is_refused(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, text: str
) -> None:
    reason = claims_only("cannabis-ca").check_message(make_message(text=text))
    assert reason is not None and reason.startswith("banned claim in the text: ")
    assert reason.endswith("(4 CCR §15040(a)(3)(D))")


@pytest.mark.parametrize(
    "text", ["Our candidate for manager", "a candid chat", "candles", "Candice says hi", "decandying"]
)
def test_candy_inside_another_word_is_not(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, text: str
) -> None:
    assert claims_only("cannabis-ca").check_message(make_message(text=text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "Free pre-roll with every order",
        "a FREE gram for new members",
        "your first edible is free",
        "complimentary samples today",
        "Buy one, get one free",
        "Enter our giveaway",
        "Win big in our raffle",
    ],
)
def test_free_products_and_giveaways_are_refused(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, text: str
) -> None:
    assert claims_only("cannabis-ca").check_message(make_message(text=text)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Feel free to call us",
        "sugar-free gummies",
        "gluten free brownies and edibles",
        "Free parking on Main Street",
        "free delivery over $50",
        "a smoke-free patio",
        "BOGO 50% off",
        "Toll-free: 1-800-555-0100",
    ],
)
def test_free_that_promotes_no_free_product_passes(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, text: str
) -> None:
    assert claims_only("cannabis-ca").check_message(make_message(text=text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "It's safe because it's lab tested",
        "lab-tested, so it\u2019s safe",
        "Safe since every batch is tested",
    ],
)
def test_safe_because_tested_is_refused_with_colorado_rule_3_730(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage, text: str
) -> None:
    reason = claims_only("cannabis-co").check_message(make_message(text=text))
    assert reason is not None and reason.endswith("(1 CCR 212-3, Rule 3-730)")


def test_tested_products_may_be_mentioned(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage
) -> None:
    text = "Every batch is lab tested. Stay safe and drive sober."
    assert claims_only("cannabis-co").check_message(make_message(text=text)) is None


def test_claims_are_found_across_line_breaks_and_in_every_part(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage
) -> None:
    rule = claims_only("cannabis-wa")
    reason = rule.check_message(make_message(text="This tincture\n  cures\nanxiety."))
    assert reason is not None and reason.startswith("banned claim in the text: 'cures anxiety': curative")
    reason = rule.check_message(make_message(subject="Kandy is back", text="Hello."))
    assert reason is not None and reason.startswith("banned claim in the subject: 'Kandy'")
    reason = rule.check_message(make_message(text="Hello.", html="<p>Our <b>cartoon</b> friends</p>"))
    assert reason is not None and reason.startswith("banned claim in the html: 'cartoon'")


def test_markup_and_links_are_not_scanned(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage
) -> None:
    html = '<p class="candy" title="free gift">Hello</p><a href="https://x.example/toys?candy=1">Shop</a>'
    message = make_message(text="Hello. https://x.example/u/free-gift-candy", html=html)
    assert claims_only("cannabis-ca").check_message(message) is None


def test_claims_apply_to_transactional_and_marketing_mail(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    message = make_message(text="Your order. Licence C10-1. Enjoy a free pre-roll next time!")
    for transactional in (True, False):
        rule = make_rule("cannabis-ca", transactional=transactional, license_number="C10-1")
        reason = rule.check_message(message)
        assert reason is not None
        assert (
            "free cannabis goods or accessories (Cal. Bus. & Prof. Code §26153(a); 4 CCR §15040(a)(4))"
            in reason
        )


def test_the_state_pack_cites_its_own_law_for_a_shared_claim(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage
) -> None:
    message = make_message(text="It cures insomnia")
    assert "§26154" in claims_only("cannabis-ca").check_message(message)
    assert "WAC 314-55-155(1)(a)(iii)" in claims_only("cannabis-wa").check_message(message)
    assert "1 CCR 212-3" in claims_only("cannabis-co").check_message(message)


def test_a_long_match_is_shortened_in_the_reason(
    claims_only: Callable[[str], PackRule], make_message: MakeMessage
) -> None:
    text = "It relieves extraordinarily-long-hyphenated-words-of-marketing-copy and-more chronic pain"
    reason = claims_only("cannabis-wa").check_message(make_message(text=text))
    assert reason is not None
    excerpt = reason.split("'")[1]
    assert len(excerpt) == 60 and excerpt.startswith("relieves extraordinarily") and excerpt.endswith("…")


@settings(max_examples=200)
@given(
    subject=st.text(max_size=80), text=st.text(max_size=400), html=st.one_of(st.none(), st.text(max_size=400))
)
def test_any_text_gets_none_or_a_one_line_reason(subject: str, text: str, html: str | None) -> None:
    from datetime import date, datetime, timezone

    from tierii_core.models import Address, Contact
    from tierii_core.settings import CoreSettings

    message = Message(
        contact=Contact("a@example.com", {}, ""),
        sender=Address("s@example.com"),
        to=Address("a@example.com"),
        subject=subject,
        text=text,
        html=html,
        message_id="<1@example.com>",
        date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )
    for cls in pack_rules():
        for transactional in (True, False):
            core = CoreSettings(transactional=transactional)
            book = single_store("C10-1", "retail", "test")
            reason = cls(cls.Settings(), core, today=date(2025, 6, 15), book=book).check_message(message)
            assert reason is None or (reason.strip() and "\n" not in reason)
