"""--where: the expression language against a reference evaluation, and its error messages."""

from __future__ import annotations

import datetime
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.models import Contact, Rejected
from tierii_core.segments import Evaluator, Segment, SegmentError, parse

TODAY = datetime.date(2026, 4, 20)
COLUMNS = ("state", "score", "joined", "tags", "vip")
OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

words = st.sampled_from(["CA", "NV", "ca", "edibles", "vape", ""])
numbers = st.integers(-5, 5)
dates = st.dates(datetime.date(2025, 12, 25), datetime.date(2026, 1, 5))
values = st.one_of(
    words,
    numbers.map(str),
    dates.map(str),
    st.lists(words, max_size=3).map(";".join),
    st.sampled_from(["yes", "no", "true", "0", "1", " "]),
)
rows = st.fixed_dictionaries({c: values for c in COLUMNS})


# -- a reference evaluation, written the plainest way: (text, evaluate(row)) pairs ------------


def reference_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def reference_date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


@st.composite
def comparisons(draw):
    column = draw(st.sampled_from(COLUMNS))
    op = draw(st.sampled_from(sorted(OPS)))
    kind = draw(st.sampled_from(["word", "number", "date"]))
    if kind == "word":
        literal = draw(words.filter(bool))
        text, read = f'"{literal}"', lambda v: v
    elif kind == "number":
        literal = draw(numbers)
        text, read = str(literal), reference_number
    else:
        literal = draw(dates)
        text, read = literal.isoformat(), reference_date

    def evaluate(row):
        value = row[column]
        if not value.strip():
            return False
        mine = read(value)
        return mine is not None and OPS[op](mine, literal)

    if draw(st.booleans()) and op in ("==", "!="):  # the literal on the left reads the same
        return f"{text} {op} {column}", evaluate
    return f"{column} {op} {text}", evaluate


@st.composite
def memberships(draw):
    column = draw(st.sampled_from(COLUMNS))
    negated = draw(st.booleans())
    if draw(st.booleans()):  # column in ("a", "b")
        choices = draw(st.lists(words.filter(bool), min_size=1, max_size=3))
        text = f"{column} {'not in' if negated else 'in'} ({', '.join(repr(c) for c in choices)})"

        def evaluate(row):
            value = row[column]
            return bool(value.strip()) and ((value in choices) != negated)

        return text, evaluate
    word = draw(words.filter(bool))
    text = f'"{word}" {"not in" if negated else "in"} {column}'

    def evaluate_tag(row):
        value = row[column]
        items = [item.strip() for item in value.replace(",", ";").replace("|", ";").split(";")]
        return bool(value.strip()) and ((word in items) != negated)

    return text, evaluate_tag


@st.composite
def flags(draw):
    column = draw(st.sampled_from(COLUMNS))
    return column, lambda row: row[column].strip().lower() in {"true", "yes", "y", "1"}


atoms = st.one_of(comparisons(), memberships(), flags())


def combine(children):
    def negate(pair):
        text, evaluate = pair
        return f"not ({text})", lambda row: not evaluate(row)

    def join(word, fn):
        def build(pairs):
            text = f" {word} ".join(f"({t})" for t, _ in pairs)
            return text, lambda row: fn(e(row) for _, e in pairs)

        return build

    return st.one_of(
        children.map(negate),
        st.lists(children, min_size=2, max_size=3).map(join("and", all)),
        st.lists(children, min_size=2, max_size=3).map(join("or", any)),
    )


expressions = st.recursive(atoms, combine, max_leaves=6)


@given(expressions, rows)
def test_expressions_evaluate_as_the_reference_does(expression, row) -> None:
    text, evaluate = expression
    assert Evaluator(TODAY).holds(parse(text), row) == evaluate(row), text


@given(st.lists(atoms, min_size=1, max_size=4), rows)
def test_several_wheres_all_hold_and_and_binds_tighter_than_or(atom_list, row) -> None:
    texts = [t for t, _ in atom_list]
    segment = Segment.parse(texts, today=TODAY)
    assert segment.holds(row) == all(e(row) for _, e in atom_list)
    # without parentheses: a or b and c == a or (b and c); not binds tighter than and
    if len(atom_list) == 3:
        (a, ea), (b, eb), (c, ec) = atom_list
        expected = ea(row) or (not eb(row) and ec(row))
        assert Evaluator(TODAY).holds(parse(f"{a} or not {b} and {c}"), row) == expected


@given(expressions, st.data())
def test_a_stray_character_is_reported_at_its_column(expression, data) -> None:
    text, _ = expression
    outside_strings = [
        i for i in range(len(text) + 1) if text[:i].count('"') % 2 == 0 and text[:i].count("'") % 2 == 0
    ]
    position = data.draw(st.sampled_from(outside_strings))
    broken = text[:position] + "@" + text[position:]
    with pytest.raises(SegmentError) as error:
        parse(broken)
    # the @ itself, or the word or operator it cuts short (a@nd: the a cannot stand there)
    word_start = position
    while word_start and (text[word_start - 1].isalnum() or text[word_start - 1] in "_.-=!<>"):
        word_start -= 1
    columns = {f"at column {column}" for column in range(word_start + 1, position + 2)}
    assert any(c in str(error.value) for c in columns), (broken, str(error.value))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("state ==", "incomplete at column 9"),
        ('(state == "CA"', "incomplete at column 15"),
        ('state === "CA"', "unexpected '=' at column 9"),
        ("state == CA!", "unexpected '!' at column 12"),
        ("joined >= 2026-13-01", "2026-13-01 at column 11 is not a date"),
        ("  ", "empty expression"),
    ],
)
def test_bad_expressions_name_the_position(text, where) -> None:
    with pytest.raises(SegmentError) as error:
        parse(text)
    assert where in str(error.value)


def test_age_comes_from_the_birth_date_when_there_is_no_age_column() -> None:
    segment = Segment.parse(["age >= 21"], today=TODAY)
    segment.check_columns(["email", "birthdate"], "contacts.csv")
    assert segment.holds({"birthdate": "2005-04-20"})  # 21 today
    assert not segment.holds({"birthdate": "2005-04-21"})  # 21 tomorrow
    assert not segment.holds({"birthdate": ""})  # unknown: not in the segment
    assert segment.holds({"age": "30", "birthdate": "2020-01-01"})  # a real age column wins


def test_an_unknown_column_is_refused_with_the_closest_name() -> None:
    segment = Segment.parse(['stat == "CA"', "age >= 21"])
    with pytest.raises(SegmentError) as error:
        segment.check_columns(["email", "state"], "contacts.csv")
    message = str(error.value)
    assert "no column 'stat' (column 1 of the expression) in contacts.csv" in message
    assert "did you mean state?" in message
    with pytest.raises(SegmentError, match="no column 'age'"):
        Segment.parse(["age >= 21"]).check_columns(["email"], "contacts.csv")
    with pytest.raises(SegmentError, match='values need quotes: "CA"'):
        Segment.parse(["state == CA"]).check_columns(["email", "state"], "contacts.csv")


def test_filter_streams_counts_the_left_out_and_passes_rejected_records() -> None:
    segment = Segment.parse(['state == "CA"'])
    records = [
        Contact("a@x.example", {"email": "a@x.example", "state": "CA"}, "f:2"),
        Contact("b@x.example", {"email": "b@x.example", "state": "NV"}, "f:3"),
        Rejected("f:4", "invalid email address 'nope'"),
        Contact("c@x.example", {"email": "c@x.example", "state": "CA"}, "f:5"),
    ]
    kept = segment.filter(iter(records), "f")
    assert next(kept).email == "a@x.example"  # lazily: one record at a time
    assert [getattr(r, "email", None) or r.origin for r in kept] == ["f:4", "c@x.example"]
    assert segment.left_out == 1
