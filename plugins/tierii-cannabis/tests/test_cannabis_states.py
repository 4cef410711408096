"""The state packs of issue 17 (NY, NJ, NV, MA, MI, IL, AZ): per pack, a message that passes, then
each of its rules broken once and refused with the pack's name, the rule's reason and its source.

The breaking texts come from the pack data itself (each claim's first example, each required
text left out), so a rule added to a pack is tested here without a new line of test code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tierii_cannabis.rules import PackRule
from tierii_core.models import Message

LICENCE = "LIC-0000042"
NY_WARNING = (
    "For use only by adults 21 years of age and older. Keep out of reach of children and pets. In case of "
    "accidental ingestion or overconsumption, contact the Poison Center at 1-800-222-1222 or call 9-1-1. "
    "Please consume responsibly."
)
NJ_WARNING = (
    "This product contains cannabis. For use only by adults 21 years of age or older. Keep out of the reach "
    "of children. There may be health risks associated with the consumption of this product, including for "
    "women who are pregnant, breastfeeding, or planning on becoming pregnant. Do not drive a motor vehicle "
    "or operate heavy machinery while using this product."
)
#: what each pack needs in every part, besides the licence number where the pack requires it
NEEDED = {
    "cannabis-ny": [NY_WARNING, "Cannabis can be addictive."],
    "cannabis-nj": [NJ_WARNING, "Green Leaf is licensed by the State of New Jersey."],
    "cannabis-nv": ["Keep out of reach of children.", "For use only by adults 21 years of age and older."],
    "cannabis-ma": [
        "Please Consume Responsibly.",
        "This product may cause impairment and may be habit forming.",
    ],
    "cannabis-mi": [],
    "cannabis-il": [],
    "cannabis-az": [],
}
PACKS = sorted(NEEDED)
BODY = "New arrivals at Green Leaf this week: flower, pre-rolls and edibles. Ask our team."

MakeRule = Callable[..., PackRule]
MakeMessage = Callable[..., Message]


def passing_text(name: str) -> str:
    return "\n".join([BODY, f"Licence {LICENCE}.", *NEEDED[name]])


def adult(state: str, **fields: object) -> dict[str, object]:
    return {"birthdate": "1980-05-05", "state": state, "consent": "yes", **fields}


@pytest.mark.parametrize("name", PACKS)
def test_a_compliant_message_and_recipient_pass(
    name: str, make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule(name, license_number=LICENCE)
    state = name[-2:].upper()
    text = passing_text(name)
    html = "<p>" + "</p><p>".join(text.splitlines()) + "</p>"
    assert rule.check_message(make_message(text=text, html=html, subject="New this week")) is None
    from tierii_core.models import Contact

    assert rule.check_contact(Contact("a@example.com", adult(state))) is None
    assert rule.pack.states == {state}


def claim_cases() -> list[tuple[str, str]]:
    from tierii_cannabis.plugin import pack_rules

    return [(cls.name, claim.id) for cls in pack_rules() if cls.name in NEEDED for claim in cls.pack.claims]


@pytest.mark.parametrize(("name", "claim_id"), claim_cases())
def test_each_banned_claim_is_refused_with_its_reason_and_source(
    name: str, claim_id: str, make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule(name, license_number=LICENCE)
    claim = next(c for c in rule.pack.claims if c.id == claim_id)
    example = claim.examples[0]
    reason = rule.check_message(make_message(text=f"{example}\n{passing_text(name)}"))
    assert reason is not None and reason.startswith("banned claim in the text: "), (name, claim_id, reason)
    assert reason.endswith(f"{claim.reason} ({claim.source})"), (name, claim_id, reason)


def required_cases() -> list[tuple[str, str]]:
    from tierii_cannabis.plugin import pack_rules

    return [(cls.name, r.id) for cls in pack_rules() if cls.name in NEEDED for r in cls.pack.required]


@pytest.mark.parametrize(("name", "required_id"), required_cases())
def test_each_required_text_left_out_is_refused_with_its_source(
    name: str, required_id: str, make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule(name, license_number=LICENCE)
    required = next(r for r in rule.pack.required if r.id == required_id)
    kept = [t for t in NEEDED[name] if not required.found_in(t)]
    assert len(kept) == len(NEEDED[name]) - 1, "the test's texts satisfy each required text once"
    reason = rule.check_message(make_message(text="\n".join([BODY, f"Licence {LICENCE}.", *kept])))
    assert reason == (
        f"required text missing: the text part does not show {required.describe()} ({required.source})"
    )


@pytest.mark.parametrize("name", [n for n in PACKS if n in ("cannabis-mi", "cannabis-az")])
def test_the_licence_number_is_required_where_the_pack_says(
    name: str, make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule(name, license_number=LICENCE)
    reason = rule.check_message(make_message(text=passing_text(name).replace(f"Licence {LICENCE}.", "")))
    assert (
        reason
        == f"licence number missing: the text part does not show {LICENCE} ({rule.pack.sources['license']})"
    )


@pytest.mark.parametrize("name", [n for n in PACKS if n not in ("cannabis-mi", "cannabis-az")])
def test_packs_without_a_licence_rule_do_not_ask_for_one(
    name: str, make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule(name)  # no licence number set at all
    assert (
        rule.check_message(make_message(text=passing_text(name).replace(f"Licence {LICENCE}.", ""))) is None
    )


@pytest.mark.parametrize("name", PACKS)
def test_minors_and_other_states_are_excluded_with_the_pack_s_sources(name: str, make_rule: MakeRule) -> None:
    from tierii_core.models import Contact

    rule = make_rule(name, license_number=LICENCE)
    state = name[-2:].upper()
    young = rule.check_contact(Contact("y@example.com", adult(state, birthdate="2010-01-01")))
    assert young is not None and young.startswith("under 21: born 2010-01-01")
    assert young.endswith(f"({rule.pack.sources['age']})")
    other = "CA" if state != "CA" else "NV"
    away = rule.check_contact(Contact("a@example.com", adult(other)))
    assert away == f"out of state: {other} is not {state} ({rule.pack.sources['state']})"
    no = rule.check_contact(Contact("n@example.com", adult(state, consent="no")))
    assert no is not None and no.startswith("no consent: consent is 'no'")


def test_new_york_refuses_price_and_slang_the_others_allow(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    ny = make_rule("cannabis-ny")
    text = passing_text("cannabis-ny")
    reason = ny.check_message(make_message(text=f"20% off all flower!\n{text}"))
    assert reason == (
        "banned claim in the text: '20% off': promotes a price, a price reduction, a discount, a loyalty "
        "program or a coupon (9 NYCRR 129.3(a)(9))"
    )
    reason = ny.check_message(make_message(subject="The best weed in Brooklyn", text=text))
    assert reason is not None and reason.startswith(
        "banned claim in the subject: 'weed': colloquial reference"
    )
    il = make_rule("cannabis-il")
    assert il.check_message(make_message(text=f"20% off all flower!\n{passing_text('cannabis-il')}")) is None


def test_nevada_allows_a_free_product_with_a_purchase_only(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    nv = make_rule("cannabis-nv")
    text = passing_text("cannabis-nv")
    assert nv.check_message(make_message(text=f"A free pre-roll with any purchase.\n{text}")) is None
    reason = nv.check_message(make_message(text=f"Free pre-rolls for everyone.\n{text}"))
    assert reason is not None and "(NRS 678D.430(1)(d))" in reason


def test_every_unverified_citation_says_what_is_uncertain() -> None:
    """The packs carry verified = false with the doubt as data: the docs list them from here."""
    from importlib import resources

    import tomllib

    folder = resources.files("tierii_cannabis").joinpath("packs")
    unverified = []
    for entry in folder.iterdir():
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for array in ("claims", "required", "manual"):
            for item in data.get(array, []):
                if item.get("verified") is False:
                    assert item["uncertain"].strip()
                    unverified.append((entry.name, item["id"]))
    assert ("cannabis-ny.toml", "ny-rotating") in unverified
    assert ("cannabis-ma.toml", "ma-warning") in unverified
