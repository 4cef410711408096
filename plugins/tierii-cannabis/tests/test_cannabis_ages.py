"""Age in completed years, 29 February birthdays included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.ages import age_on


def reference_age(born: date, today: date) -> int:
    """Count the birthdays up to today; a 29 February birthday is on 1 March in common years."""
    years = 0
    while True:
        year = born.year + years + 1
        try:
            birthday = born.replace(year=year)
        except ValueError:  # 29 February in a common year
            birthday = date(year, 3, 1)
        if birthday > today:
            return years
        years += 1


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 3, 31), 20),  # the day before the 21st birthday
        (date(2025, 4, 1), 21),  # the birthday
        (date(2025, 4, 2), 21),
        (date(2026, 3, 31), 21),
    ],
)
def test_age_turns_on_the_birthday(today: date, expected: int) -> None:
    assert age_on(date(2004, 4, 1), today) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 2, 28), 20),  # common year: not yet 21 on 28 February
        (date(2025, 3, 1), 21),  # ...but on 1 March
        (date(2024, 2, 28), 19),
        (date(2024, 2, 29), 20),  # leap year: on the day itself
    ],
)
def test_29_february_birthdays_fall_on_1_march_in_common_years(today: date, expected: int) -> None:
    assert age_on(date(2004, 2, 29), today) == expected


def test_born_today_is_zero() -> None:
    assert age_on(date(2025, 6, 15), date(2025, 6, 15)) == 0


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=130 * 366),
)
def test_age_agrees_with_counting_birthdays(born: date, days: int) -> None:
    today = born + timedelta(days=days)
    assert age_on(born, today) == reference_age(born, today)


@given(
    leap_year=st.sampled_from(range(1904, 2029, 4)),
    days=st.integers(min_value=0, max_value=40 * 366),
)
def test_29_february_birthdays_agree_with_counting_birthdays(leap_year: int, days: int) -> None:
    born = date(leap_year, 2, 29)
    today = born + timedelta(days=days)
    assert age_on(born, today) == reference_age(born, today)
