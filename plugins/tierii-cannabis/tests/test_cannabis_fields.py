"""Reading contact fields: names in any case or spelling, dates, timestamps, yes/no values."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.fields import (
    _python_iso,
    consent_problem,
    is_yes,
    lookup,
    parse_birthdate,
    parse_timestamp,
)

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    "header", ["birthdate", "Birthdate", "BIRTHDATE", "birth_date", "Birth Date", " birth-date "]
)
def test_field_names_match_ignoring_case_and_separators(header: str) -> None:
    assert lookup({"email": "a@example.com", header: "1990-01-01"}, "birthdate") == "1990-01-01"


def test_an_exact_name_wins_over_a_lenient_match() -> None:
    assert lookup({"State": "WA", "state": "CA"}, "state") == "CA"


def test_a_missing_field_is_none() -> None:
    assert lookup({"email": "a@example.com"}, "state") is None
    assert lookup({"statement": "CA"}, "state") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-01-31", date(1990, 1, 31)),
        (" 1990-01-31 ", date(1990, 1, 31)),
        (date(1990, 1, 31), date(1990, 1, 31)),  # a typed source (SQL)
        (datetime(1990, 1, 31, 12, 0), date(1990, 1, 31)),
    ],
)
def test_birthdates_are_iso_dates(raw: object, expected: date) -> None:
    assert parse_birthdate(raw, TODAY).value == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, "no birthdate"),
        ("", "no birthdate"),
        ("01/31/1990", "birthdate '01/31/1990' is not a YYYY-MM-DD date"),
        ("19900131", "birthdate '19900131' is not a YYYY-MM-DD date"),
        ("1990-W05-3", "birthdate '1990-W05-3' is not a YYYY-MM-DD date"),
        ("1990-02-30", "birthdate '1990-02-30' is not a real date"),
        ("2025-06-16", "birthdate 2025-06-16 is in the future"),
        ("1899-12-31", "birthdate 1899-12-31 is not plausible"),
    ],
)
def test_bad_birthdates_say_why(raw: object, problem: str) -> None:
    parsed = parse_birthdate(raw, TODAY)
    assert parsed.value is None and parsed.problem == problem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01", date(2024, 5, 1)),
        ("2024-05-01T10:30", date(2024, 5, 1)),
        ("2024-05-01T10:30:00.123", date(2024, 5, 1)),
        ("2024-05-01T10:30:00Z", date(2024, 5, 1)),
        ("2024-05-01 10:30:00.123456+02:00", date(2024, 5, 1)),
        ("2024-05-01T10:30:00-0700", date(2024, 5, 1)),
        ("2025-06-15T23:59:59", TODAY),
        (datetime(2024, 5, 1, tzinfo=timezone.utc), date(2024, 5, 1)),
    ],
)
def test_timestamps_are_iso_dates_or_date_times(raw: object, expected: date) -> None:
    assert parse_timestamp(raw, TODAY, "age_verified_at").value == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "no age_verified_at"),
        ("yes", "age_verified_at 'yes' is not a date or timestamp (YYYY-MM-DD[THH:MM[:SS]])"),
        ("2024-13-01", "age_verified_at '2024-13-01' is not a real date"),
        ("2024-05-01T25:00", "age_verified_at '2024-05-01T25:00' is not a real date"),
        (
            "2024-05-01T10:30:00.1234",  # Python 3.10 reads 3 or 6 digits of fractions only
            "age_verified_at '2024-05-01T10:30:00.1234' is not a date or timestamp (YYYY-MM-DD[THH:MM[:SS]])",
        ),
        ("2025-06-16", "age_verified_at 2025-06-16 is in the future"),
    ],
)
def test_bad_timestamps_say_why(raw: str, problem: str) -> None:
    assert parse_timestamp(raw, TODAY, "age_verified_at").problem == problem


@pytest.mark.parametrize("raw", ["yes", "YES", " y ", "true", "True", "1", True, 1])
def test_yes_values(raw: object) -> None:
    assert is_yes(raw)


@pytest.mark.parametrize("raw", ["no", "false", "0", "", None, "maybe", "medical", False, 0, 2])
def test_anything_else_is_not_yes(raw: object) -> None:
    assert not is_yes(raw)


@pytest.mark.parametrize(
    "raw", ["yes", "TRUE", "1", "2024-01-01", "2024-01-01T08:00:00Z", date(2024, 1, 1), True]
)
def test_consent_is_yes_or_the_date_it_was_given(raw: object) -> None:
    assert consent_problem(raw, TODAY) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, "no consent recorded"),
        ("", "no consent recorded"),
        ("no", "consent is 'no'"),
        ("FALSE", "consent is 'FALSE'"),
        ("0", "consent is '0'"),
        (False, "consent is 'False'"),
        ("maybe", "consent 'maybe' is neither yes/true/1 nor a date"),
        ("2024-02-30", "consent '2024-02-30' is not a real date"),
        ("2030-01-01", "consent 2030-01-01 is in the future"),
    ],
)
def test_no_consent_says_why(raw: object, problem: str) -> None:
    assert consent_problem(raw, TODAY) == problem


@given(st.one_of(st.none(), st.text(), st.booleans(), st.integers(), st.dates(), st.datetimes()))
def test_any_value_is_read_without_error(raw: object) -> None:
    born = parse_birthdate(raw, TODAY)
    assert (born.value is None) != (born.problem is None)
    stamp = parse_timestamp(raw, TODAY, "age_verified_at")
    assert (stamp.value is None) != (stamp.problem is None)
    problem = consent_problem(raw, TODAY)
    assert problem is None or (problem and "\n" not in problem)


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("2024-05-01T10:30:00Z", "2024-05-01T10:30:00+00:00"),
        ("2024-05-01 10:30-0700", "2024-05-01T10:30-07:00"),
        ("2024-05-01t10:30:00+02:00", "2024-05-01T10:30:00+02:00"),
    ],
)
def test_timestamps_are_respelled_for_python_3_10(text: str, python: str) -> None:
    # Python 3.10's datetime.fromisoformat reads neither 'Z' nor '+0200'
    assert _python_iso(text) == python
