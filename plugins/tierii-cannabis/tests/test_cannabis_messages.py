"""Message checks: the licence number and the required texts, in every part."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tierii_cannabis.rules import PackRule
from tierii_core.models import Message

MakeRule = Callable[..., PackRule]
MakeMessage = Callable[..., Message]

LICENCE = "C10-0000001-LIC"
CA_LICENCE = "(Cal. Bus. & Prof. Code §26151(a)(1))"
WA_WARNINGS = (
    "This product has intoxicating effects and may be habit forming. "
    "Cannabis can impair concentration, coordination, and judgment. Do not operate a vehicle or "
    "machinery under the influence of this drug. There may be health risks associated with "
    "consumption of this product. For use only by adults twenty-one and older. Keep out of the "
    "reach of children."
)


def test_licence_number_in_every_part_passes(make_rule: MakeRule, make_message: MakeMessage) -> None:
    rule = make_rule("cannabis-ca", license_number=LICENCE)
    message = make_message(text=f"Hi.\n--\nLicence {LICENCE}", html=f"<p>Licence <b>{LICENCE}</b></p>")
    assert rule.check_message(message) is None


def test_licence_number_is_matched_ignoring_case_and_spacing(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    rule = make_rule("cannabis-ca", license_number="  c10-0000001-lic ")
    assert rule.check_message(make_message(text=f"Licence: {LICENCE}.")) is None


@pytest.mark.parametrize("name", ["cannabis-ca", "cannabis-adult-use"])
def test_an_unset_licence_number_says_to_set_it(
    make_rule: MakeRule, make_message: MakeMessage, name: str
) -> None:
    reason = make_rule(name).check_message(make_message(text="Hi."))
    assert reason is not None and reason.startswith(
        "licence number not set: set TIERII_CANNABIS_LICENSE_NUMBER"
    )
    assert "{{license_number}}" in reason


@pytest.mark.parametrize(
    ("text", "html", "part"),
    [
        ("Hi.", None, "text"),
        (f"Licence {LICENCE}", "<p>Hi.</p>", "html"),
        (f"Licence {LICENCE}", f"<p title='{LICENCE}'>Hi.</p>", "html"),  # an attribute is not visible
        (f"Licence {LICENCE}", f"<head><title>{LICENCE}</title></head><body>Hi.</body>", "html"),
    ],
)
def test_a_part_without_the_licence_number_is_refused(
    make_rule: MakeRule, make_message: MakeMessage, text: str, html: str | None, part: str
) -> None:
    reason = make_rule("cannabis-ca", license_number=LICENCE).check_message(
        make_message(text=text, html=html)
    )
    assert reason == f"licence number missing: the {part} part does not show {LICENCE} {CA_LICENCE}"


@pytest.mark.parametrize("name", ["cannabis-co", "cannabis-wa"])
def test_packs_without_a_licence_requirement_do_not_ask_for_it(
    make_rule: MakeRule, make_message: MakeMessage, name: str
) -> None:
    rule = make_rule(name)
    assert not rule.pack.license_required
    assert rule.check_message(make_message(text=f"Hi. {WA_WARNINGS}")) is None


def test_washington_warnings_in_every_part_pass(make_rule: MakeRule, make_message: MakeMessage) -> None:
    html = "<p>" + WA_WARNINGS.replace(". ", ".</p>\n<p>") + "</p>"
    assert make_rule("cannabis-wa").check_message(make_message(text=WA_WARNINGS, html=html)) is None


@pytest.mark.parametrize(
    "variant",
    [
        WA_WARNINGS.replace("Cannabis can", "Marijuana can"),  # the 2019 wording
        WA_WARNINGS.replace("habit forming", "habit-forming").replace("twenty-one", "21"),
        WA_WARNINGS.upper(),
        WA_WARNINGS.replace(" ", "\n   "),
    ],
)
def test_washington_warnings_are_matched_in_their_known_variants(
    make_rule: MakeRule, make_message: MakeMessage, variant: str
) -> None:
    assert make_rule("cannabis-wa").check_message(make_message(text=variant)) is None


@pytest.mark.parametrize(
    ("missing", "required_id"),
    [
        ("This product has intoxicating effects and may be habit forming. ", "wa-intoxicating"),
        ("There may be health risks associated with consumption of this product. ", "wa-health-risks"),
        ("For use only by adults twenty-one and older. Keep out of the reach of children.", "wa-adults-only"),
    ],
)
def test_each_missing_washington_warning_is_named(
    make_rule: MakeRule, make_message: MakeMessage, missing: str, required_id: str
) -> None:
    rule = make_rule("cannabis-wa")
    required = next(r for r in rule.pack.required if r.id == required_id)
    reason = rule.check_message(make_message(text=WA_WARNINGS.replace(missing, "")))
    assert (
        reason == f"required text missing: the text part does not show {required.text!r} ({required.source})"
    )


def test_washington_warnings_must_be_in_the_html_part_too(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    reason = make_rule("cannabis-wa").check_message(make_message(text=WA_WARNINGS, html="<p>Hi</p>"))
    assert reason is not None and reason.startswith("required text missing: the html part does not show")


def test_transactional_mail_needs_no_licence_or_warnings(
    make_rule: MakeRule, make_message: MakeMessage
) -> None:
    assert (
        make_rule("cannabis-wa", transactional=True).check_message(make_message(text="Your receipt.")) is None
    )
    assert (
        make_rule("cannabis-ca", transactional=True).check_message(make_message(text="Your receipt.")) is None
    )


def test_the_licence_is_checked_before_the_claims(make_rule: MakeRule, make_message: MakeMessage) -> None:
    reason = make_rule("cannabis-ca").check_message(make_message(text="Candy!"))
    assert reason is not None and reason.startswith("licence number not set")
