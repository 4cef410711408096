"""Reading the contact fields the packs check, leniently but never by guessing.

A field is found by its name ignoring case and any character that is not a letter or a digit:
``birthdate``, ``Birthdate``, ``birth_date`` and ``Birth Date`` are the same field (an exact
match wins when a record has several). Values may be text (CSV) or typed (a database source):
dates, datetimes, booleans and numbers are understood as well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from attrs import frozen

#: the values that mean yes for ``consent`` and ``medical`` (yes/true/1, as docs/compliance/cannabis.md says)
YES = frozenset({"yes", "y", "true", "1"})
#: the values that plainly mean no (any other value that is not a date is reported as unclear)
NO = frozenset({"no", "n", "false", "0"})

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{3}(\d{3})?)?)?(Z|[+-]\d{2}:?\d{2})?", re.I
)
_NOT_ALNUM = re.compile(r"[\W_]+")


def _key(name: str) -> str:
    return _NOT_ALNUM.sub("", name).casefold()


def lookup(fields: Mapping[str, Any], name: str) -> Any:
    """The value of field ``name`` (see the module docstring for the matching), or None."""
    if name in fields:
        return fields[name]
    wanted = _key(name)
    for key, value in fields.items():
        if isinstance(key, str) and _key(key) == wanted:
            return value
    return None


def text_of(value: Any) -> str:
    """The value as stripped text; '' for None."""
    return "" if value is None else str(value).strip()


@frozen
class Parsed:
    """A field value read as a date: ``value`` when it is one, else ``problem`` says why not."""

    value: date | None = None
    problem: str | None = None


def parse_birthdate(raw: Any, today: date) -> Parsed:
    """A birthdate: YYYY-MM-DD (or a date from a typed source), not in the future, not before 1900."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        born = raw
    else:
        text = text_of(raw)
        if not text:
            return Parsed(problem="no birthdate")
        if not _ISO_DATE.fullmatch(text):
            return Parsed(problem=f"birthdate {text!r} is not a YYYY-MM-DD date")
        try:
            born = date.fromisoformat(text)
        except ValueError:
            return Parsed(problem=f"birthdate {text!r} is not a real date")
    if born > today:
        return Parsed(problem=f"birthdate {born.isoformat()} is in the future")
    if born.year < 1900:
        return Parsed(problem=f"birthdate {born.isoformat()} is not plausible")
    return Parsed(born)


def parse_timestamp(raw: Any, today: date, field: str) -> Parsed:
    """A date or ISO 8601 timestamp (``2024-05-01``, ``2024-05-01T10:30:00Z``), not after today."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        when = raw
    else:
        text = text_of(raw)
        if not text:
            return Parsed(problem=f"no {field}")
        try:
            if _ISO_DATE.fullmatch(text):
                when = date.fromisoformat(text)
            elif _ISO_TIMESTAMP.fullmatch(text):
                when = datetime.fromisoformat(_python_iso(text)).date()
            else:
                return Parsed(
                    problem=f"{field} {text!r} is not a date or timestamp (YYYY-MM-DD[THH:MM[:SS]])"
                )
        except ValueError:
            return Parsed(problem=f"{field} {text!r} is not a real date")
    if when > today:
        return Parsed(problem=f"{field} {when.isoformat()} is in the future")
    return Parsed(when)


def _python_iso(text: str) -> str:
    """What ``datetime.fromisoformat`` of Python 3.10 reads: 'Z' and '+0100' spelled '+00:00'."""
    text = text.upper().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = re.search(r"([+-])(\d{2})(\d{2})$", text)
    if match:
        text = text[: match.start()] + f"{match[1]}{match[2]}:{match[3]}"
    return text


def is_yes(raw: Any) -> bool:
    """True for yes/y/true/1 (any case) and for a true boolean or the number 1."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw == 1
    return text_of(raw).casefold() in YES


def consent_problem(raw: Any, today: date) -> str | None:
    """None when ``raw`` records consent (yes/true/1 or the date it was given), else why not."""
    if is_yes(raw):
        return None
    text = text_of(raw)
    if isinstance(raw, bool) or text.casefold() in NO:
        return f"consent is {text!r}"
    if not text and not isinstance(raw, (date, datetime)):
        return "no consent recorded"
    parsed = parse_timestamp(raw, today, "consent")
    if parsed.problem is None:
        return None
    if _ISO_DATE.match(text):
        return parsed.problem
    return f"consent {text!r} is neither yes/true/1 nor a date"
