"""Recipient checks: age (birthdate, age verification, medical flag), state, consent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.plugin import pack_rules
from tierii_cannabis.rules import PackRule
from tierii_core.models import Contact

CA_AGE = "(Cal. Bus. & Prof. Code §26151(c); 4 CCR §15041(a))"
PACKS = ["cannabis-adult-use", "cannabis-ca", "cannabis-co", "cannabis-wa"]
HOME = {"cannabis-adult-use": "CA", "cannabis-ca": "CA", "cannabis-co": "CO", "cannabis-wa": "WA"}

MakeRule = Callable[..., PackRule]


def contact(**fields: Any) -> Contact:
    return Contact("ann@example.com", {"email": "ann@example.com", **fields}, "contacts.csv:2")


def adult(**changes: Any) -> Contact:
    """A 30-year-old Californian who said yes, changed by ``changes`` (None removes a field)."""
    fields = {"birthdate": "1995-01-01", "state": "CA", "consent": "yes", **changes}
    return contact(**{k: v for k, v in fields.items() if v is not None})


# -- age ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PACKS)
def test_an_adult_in_the_state_who_consented_is_accepted(make_rule: MakeRule, name: str) -> None:
    assert make_rule(name).check_contact(adult(state=HOME[name])) is None


@pytest.mark.parametrize(
    ("birthdate", "reason"),
    [
        ("2004-06-15", None),  # 21 today
        ("2004-06-14", None),
        ("2004-06-16", f"under 21: born 2004-06-16, 20 on 2025-06-15 {CA_AGE}"),  # 21 tomorrow
        ("2010-01-01", f"under 21: born 2010-01-01, 15 on 2025-06-15 {CA_AGE}"),
    ],
)
def test_age_21_around_the_birthday(make_rule: MakeRule, birthdate: str, reason: str | None) -> None:
    assert make_rule("cannabis-ca").check_contact(adult(birthdate=birthdate)) == reason


@pytest.mark.parametrize(
    ("today", "excluded"),
    [
        (date(2025, 2, 28), True),
        (date(2025, 3, 1), False),
        (date(2024, 2, 29), True),
        (date(2026, 2, 28), False),
    ],
)
def test_a_29_february_birthday_turns_21_on_1_march_in_a_common_year(
    make_rule: MakeRule, today: date, excluded: bool
) -> None:
    reason = make_rule("cannabis-ca", today=today).check_contact(adult(birthdate="2004-02-29"))
    assert reason == (f"under 21: born 2004-02-29, 20 on {today.isoformat()} {CA_AGE}" if excluded else None)


@pytest.mark.parametrize("medical", ["yes", "TRUE", "1", True])
@pytest.mark.parametrize("name", ["cannabis-co", "cannabis-wa"])
def test_medical_recipients_may_be_18_where_the_pack_allows_for_a_medical_licensee(
    make_rule: MakeRule, name: str, medical: object
) -> None:
    rule = make_rule(name, license_type="medical")
    state = HOME[name]
    assert rule.check_contact(adult(state=state, birthdate="2007-06-15", medical=medical)) is None  # 18 today
    reason = rule.check_contact(adult(state=state, birthdate="2007-06-16", medical=medical))
    assert reason is not None and reason.startswith("under 18 (medical): born 2007-06-16, 17 on 2025-06-15 (")
    assert rule.pack.sources["medical_age"] in reason


@pytest.mark.parametrize("license_type", ["retail", "microbusiness", "delivery"])
@pytest.mark.parametrize("name", ["cannabis-co", "cannabis-wa"])
def test_a_retail_licensee_never_writes_to_an_18_to_20_year_old_flagged_medical(
    make_rule: MakeRule, name: str, license_type: str
) -> None:
    """The medical age follows the sender's licence, not the recipient's flag."""
    rule = make_rule(name, license_type=license_type)
    reason = rule.check_contact(adult(state=HOME[name], birthdate="2006-01-01", medical="yes"))  # 19
    assert reason is not None and reason.startswith(
        "under 21: born 2006-01-01, 19 on 2025-06-15; flagged medical"
    )
    assert f"({license_type} licence)" in reason and rule.pack.sources["age"] in reason


@pytest.mark.parametrize("medical", ["no", "", "maybe", None])
def test_without_a_yes_medical_flag_the_age_is_21(make_rule: MakeRule, medical: object) -> None:
    reason = make_rule("cannabis-co").check_contact(
        adult(state="CO", birthdate="2005-01-01", medical=medical)
    )
    assert reason is not None and reason.startswith("under 21: born 2005-01-01, 20 on 2025-06-15")


@pytest.mark.parametrize("name", ["cannabis-ca", "cannabis-adult-use"])
def test_a_medical_flag_does_not_lower_the_age_in_california_or_the_baseline(
    make_rule: MakeRule, name: str
) -> None:
    reason = make_rule(name).check_contact(adult(birthdate="2005-01-01", medical="yes"))
    assert reason is not None and reason.startswith("under 21: born 2005-01-01, 20 on")


@pytest.mark.parametrize("verified", ["2024-05-01", "2024-05-01T10:30:00Z", date(2024, 5, 1)])
def test_age_verification_stands_in_for_a_birthdate(make_rule: MakeRule, verified: object) -> None:
    rule = make_rule("cannabis-ca")
    assert rule.check_contact(adult(birthdate=None, age_verified_at=verified)) is None
    assert rule.check_contact(adult(birthdate="", age_verified_at=verified)) is None
    assert rule.check_contact(adult(birthdate="31/12/1990", age_verified_at=verified)) is None


def test_age_verification_of_a_medical_recipient_means_18_plus(make_rule: MakeRule) -> None:
    fields = {"birthdate": None, "age_verified_at": "2024-05-01", "medical": "yes", "state": "WA"}
    assert make_rule("cannabis-wa").check_contact(adult(**fields)) is None


def test_a_birthdate_under_age_wins_over_an_age_verification(make_rule: MakeRule) -> None:
    reason = make_rule("cannabis-ca").check_contact(
        adult(birthdate="2006-01-01", age_verified_at="2024-05-01")
    )
    assert reason == f"under 21: born 2006-01-01, 19 on 2025-06-15 {CA_AGE}"


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"birthdate": None}, "no birthdate and no age_verified_at"),
        (
            {"birthdate": "12/31/1990"},
            "birthdate '12/31/1990' is not a YYYY-MM-DD date and no age_verified_at",
        ),
        ({"birthdate": "2026-01-01"}, "birthdate 2026-01-01 is in the future and no age_verified_at"),
        (
            {"birthdate": None, "age_verified_at": "yes"},
            "no birthdate and age_verified_at 'yes' is not a date or timestamp (YYYY-MM-DD[THH:MM[:SS]])",
        ),
        (
            {"birthdate": None, "age_verified_at": "2099-01-01"},
            "no birthdate and age_verified_at 2099-01-01 is in the future",
        ),
    ],
)
def test_age_that_cannot_be_verified_excludes(make_rule: MakeRule, changes: dict[str, Any], why: str) -> None:
    assert (
        make_rule("cannabis-ca").check_contact(adult(**changes)) == f"age cannot be verified: {why} {CA_AGE}"
    )


def test_field_names_are_matched_leniently(make_rule: MakeRule) -> None:
    record = contact(**{"Birth Date": "2010-01-01", "STATE": "CA", "Consent": "yes"})
    assert make_rule("cannabis-ca").check_contact(record).startswith("under 21: born 2010-01-01")
    record = contact(**{"Age_Verified_At": "2024-01-01", "State": "ca", "CONSENT": "Yes"})
    assert make_rule("cannabis-ca").check_contact(record) is None


# -- state --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["CA", "ca", " Ca "])
def test_state_codes_are_read_in_any_case(make_rule: MakeRule, state: str) -> None:
    assert make_rule("cannabis-ca").check_contact(adult(state=state)) is None


@pytest.mark.parametrize(
    ("name", "state", "reason"),
    [
        ("cannabis-ca", "WA", "out of state: WA is not CA"),
        ("cannabis-co", "CA", "out of state: CA is not CO"),
        ("cannabis-wa", "OR", "out of state: OR is not WA"),
        ("cannabis-adult-use", "TX", "out of state: TX is not one of the pack's 23 states"),
        ("cannabis-adult-use", "VA", "out of state: VA is not one of the pack's 23 states"),
        ("cannabis-adult-use", "DC", "out of state: DC is not one of the pack's 23 states"),
        ("cannabis-ca", "", "no state: the recipient must be in CA"),
        ("cannabis-ca", None, "no state: the recipient must be in CA"),
        ("cannabis-ca", "California", "invalid state: 'California' is not a USPS state code such as CA"),
    ],
)
def test_recipients_outside_the_pack_states_are_excluded(
    make_rule: MakeRule, name: str, state: str | None, reason: str
) -> None:
    rule = make_rule(name)
    answer = rule.check_contact(adult(state=state))
    assert answer == f"{reason} ({rule.pack.sources['state']})"


@pytest.mark.parametrize("state", ["CA", "CO", "WA", "NY", "MI", "OH", "AK"])
def test_the_baseline_accepts_legal_adult_use_states(make_rule: MakeRule, state: str) -> None:
    assert make_rule("cannabis-adult-use").check_contact(adult(state=state)) is None


# -- consent ------------------------------------------------------------------------------------


@pytest.mark.parametrize("consent", ["yes", "Yes", "true", "1", "2024-03-01", "2024-03-01T09:00:00+01:00"])
def test_consent_is_yes_or_a_date(make_rule: MakeRule, consent: str) -> None:
    assert make_rule("cannabis-ca").check_contact(adult(consent=consent)) is None


@pytest.mark.parametrize(
    ("consent", "problem"),
    [
        ("no", "consent is 'no'"),
        ("", "no consent recorded"),
        (None, "no consent recorded"),
        ("later", "consent 'later' is neither yes/true/1 nor a date"),
    ],
)
def test_no_consent_excludes(make_rule: MakeRule, consent: str | None, problem: str) -> None:
    rule = make_rule("cannabis-ca")
    assert (
        rule.check_contact(adult(consent=consent))
        == f"no consent: {problem} ({rule.pack.sources['consent']})"
    )


# -- transactional mail -------------------------------------------------------------------------


def test_transactional_mail_checks_age_but_not_state_or_consent(make_rule: MakeRule) -> None:
    rule = make_rule("cannabis-ca", transactional=True)
    assert rule.check_contact(adult(state="NY", consent="no")) is None
    assert rule.check_contact(adult(birthdate="2010-01-01", state="NY")).startswith("under 21:")
    assert rule.check_contact(adult(birthdate=None)).startswith("age cannot be verified:")


# -- any record ---------------------------------------------------------------------------------

values = st.one_of(st.none(), st.text(max_size=30), st.booleans(), st.integers(), st.dates())


@given(
    fields=st.dictionaries(
        st.sampled_from(["birthdate", "Birthdate", "age_verified_at", "state", "consent", "medical", "x"]),
        values,
    )
)
def test_any_record_gets_none_or_a_one_line_reason(fields: dict[str, Any]) -> None:

    from tierii_core.settings import CoreSettings

    for cls in pack_rules():
        reason = cls(cls.Settings(), CoreSettings(), today=date(2025, 6, 15)).check_contact(contact(**fields))
        assert reason is None or (reason.strip() and "\n" not in reason)
