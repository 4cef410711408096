"""Required texts as data: "when the message mentions these words" and "one of these texts"."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tierii_cannabis.plugin import rules_from
from tierii_cannabis.rules import PackRule
from tierii_cannabis.stores import single_store
from tierii_core.errors import PluginError
from tierii_core.models import Message
from tierii_core.settings import CoreSettings

CARTRIDGE = (
    "A spent cannabis cartridge shall be properly disposed of as hazardous waste at a household "
    "hazardous waste facility or other approved facility"
)
VAPORIZER = (
    "An empty integrated cannabis vaporizer shall be properly disposed of as hazardous waste at a "
    "household hazardous waste collection facility or other approved facility."
)
LICENCE = "C10-0000001-LIC"
MakeRule = Callable[..., PackRule]
MakeMessage = Callable[..., Message]


def test_vape_cartridges_without_the_disposal_message_are_refused_with_the_rule_and_source(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule("cannabis-ca", license_number=LICENCE)
    reason = rule.check_message(make_message(text=f"New vape cartridges this week. Licence {LICENCE}."))
    assert reason == (
        f"required text missing: the text part does not show {CARTRIDGE!r} "
        "(Cal. Bus. & Prof. Code §26152.1 (cannabis cartridges, from 1 July 2024)) "
        "(the text mentions 'cartridges')"
    )
    text = f"New vape cartridges this week. Licence {LICENCE}.\n{CARTRIDGE}."
    assert rule.check_message(make_message(text=text)) is None


def test_the_subject_alone_can_make_the_text_required(make_rule: MakeRule, make_message: MakeMessage) -> None:
    rule = make_rule("cannabis-ca", license_number=LICENCE)
    reason = rule.check_message(make_message(subject="Vape pens restocked", text=f"Licence {LICENCE}."))
    assert (
        reason is not None
        and "the subject mentions 'Vape pens'" in reason
        and "integrated cannabis vaporizer" in reason
    )
    both = make_message(subject="Vape pens and carts", text=f"Licence {LICENCE}. {CARTRIDGE}. {VAPORIZER}")
    assert rule.check_message(both) is None


def test_every_part_must_carry_a_conditional_text(make_rule: MakeRule, make_message: MakeMessage) -> None:
    rule = make_rule("cannabis-ca", license_number=LICENCE)
    message = make_message(
        text=f"Carts are in. Licence {LICENCE}. {CARTRIDGE}",
        html=f"<p>Carts are in. Licence {LICENCE}.</p>",
    )
    reason = rule.check_message(message)
    assert reason is not None and reason.startswith("required text missing: the html part does not show")


@pytest.mark.parametrize(
    "text",
    ["Flower and pre-rolls this week", "Visit our cart-free store", "Our Cartier-style jars", "vapour"],
)
def test_a_message_without_the_words_needs_no_disposal_text(
    make_rule: MakeRule, make_message: MakeMessage, text: str
) -> None:
    rule = make_rule("cannabis-ca", license_number=LICENCE)
    assert rule.check_message(make_message(text=f"{text}. Licence {LICENCE}.")) is None


def test_conditional_texts_are_advertising_requirements_only(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule("cannabis-ca", transactional=True)
    assert rule.check_message(make_message(text="Your receipt: 1 vape cartridge.")) is None


def write_pack(directory: Path, body: str) -> list[type[PackRule]]:
    directory.mkdir(exist_ok=True)
    (directory / "house.toml").write_text(textwrap.dedent(body), encoding="utf-8")
    return rules_from(directory)


ROTATING = """\
title = "House rules: one of the rotating warnings"
extends = "cannabis-ca"
license_required = false

[[required]]
id = "rotating"
one_of = ["Cannabis can be addictive.", "Cannabis can impair your ability to drive."]
source = "House rule 7"
"""


def test_one_of_several_texts_is_enough(tmp_path: Path, make_message: MakeMessage) -> None:
    (cls,) = write_pack(tmp_path / "packs", ROTATING)
    rule = cls(cls.Settings(), CoreSettings(), book=single_store("", "retail", "test"))
    assert rule.check_message(make_message(text="Hi. Cannabis can be  addictive.")) is None
    assert rule.check_message(make_message(text="Hi. cannabis can impair your ability to drive.")) is None
    reason = rule.check_message(make_message(text="Hi."))
    assert reason == (
        "required text missing: the text part does not show one of 'Cannabis can be addictive.' / "
        "'Cannabis can impair your ability to drive.' (House rule 7)"
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('one_of = ["Only one."]\nsource = "x"', "one_of needs two texts or more"),
        ('one_of = ["A.", "B."]\npattern = "a"\nsource = "x"', "give pattern or one_of, not both"),
        ('text = "A."\nwhen = []\nsource = "x"', "when is empty"),
        ('text = "A."\nwhen = ["(unclosed"]\nsource = "x"', "when: pattern does not compile"),
        ('text = "A."\nwhen = "carts"\nsource = "x"', "when must be a list of texts"),
        ('text = "A."\nsource = "x"\nverified = false', "verified = false needs 'uncertain'"),
        ('text = "A."\nsource = "x"\nverified = "no"', "verified must be true or false"),
    ],
)
def test_a_malformed_conditional_entry_names_the_file_and_the_problem(
    tmp_path: Path, entry: str, problem: str
) -> None:
    body = f'title = "t"\nextends = "cannabis-ca"\n\n[[required]]\nid = "w"\n{entry}\n'
    with pytest.raises(PluginError, match=r"house\.toml: required 'w'") as caught:
        write_pack(tmp_path / "packs", body)
    assert problem in str(caught.value)


def test_manual_checks_are_data_listed_per_pack(rule_class: Callable[[str], type[PackRule]]) -> None:
    rule = rule_class("cannabis-ca")(
        PackRule.Settings(), CoreSettings(), book=single_store("C1", "retail", "t")
    )
    checks = rule.manual_checks()
    assert (
        "Where the list came from: at least 71.6 percent of the audience reasonably expected to be 21 "
        "or older (Cal. Bus. & Prof. Code §26151(b))" in checks
    )
