"""Age in whole years on a given day."""

from __future__ import annotations

from datetime import date


def age_on(born: date, today: date) -> int:
    """Completed years of life on ``today``.

    Someone born on 29 February has a birthday on 1 March in common years: they reach an age
    a day later than a 28 February reading would give, so the check is never early.
    """
    before_birthday = (today.month, today.day) < (born.month, born.day)
    return today.year - born.year - before_birthday
