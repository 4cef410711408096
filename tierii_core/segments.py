"""Segments: ``--where EXPR`` picks which contacts are this campaign's recipients.

A small, safe expression language (never Python ``eval``), parsed with Lark's LALR parser::

    state == "CA"            state in ("CA", "NV")        "edibles" in tags
    consent_date >= 2026-01-01                             not medical
    age >= 21 and (store == "Oakland" or vip)

Values are the source's text. A literal decides how a value is compared: a number compares
numerically, a date (``YYYY-MM-DD``) as a date, a string as text (exactly, case-sensitive).
``x in tags`` looks for ``x`` among the items of a list column (split on ``,``, ``;`` or
``|``). A bare column is true when it holds ``true``, ``yes``, ``y`` or ``1`` (any case).
An empty value, or one that does not read as the literal's kind, makes the comparison false
(so ``not (...)`` of it is true). ``age`` is derived from a birth-date column when the source
has no ``age`` column. Several ``--where`` must all hold.

Contacts outside the segment are not recipients of the campaign: they are counted as "not
in segment" and never reach the journal.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import define, frozen

from tierii_core.errors import ConfigurationError
from tierii_core.models import Contact, Rejected, SourceRecord

GRAMMAR = r"""
?start: or_
?or_: and_ (_OR and_)*  -> any_
?and_: not_ (_AND not_)* -> all_
?not_: _NOT not_ -> negate
     | atom
?atom: comparison
     | "(" or_ ")"
     | NAME -> truthy
comparison: operand OP operand
          | operand _IN list_ -> member
          | operand _NOT _IN list_ -> not_member
          | operand _IN operand -> member
          | operand _NOT _IN operand -> not_member
list_: "(" literal ("," literal)* ","? ")"
?operand: NAME -> column
        | literal
?literal: STRING -> string
        | DATE -> date
        | NUMBER -> number
        | _TRUE -> true
        | _FALSE -> false
OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
DATE.3: /\d{4}-\d{2}-\d{2}(?![\w.])/
NUMBER: /-?\d+(\.\d+)?(?![\w.])/
NAME: /[A-Za-z_][A-Za-z0-9_.-]*/
STRING: /"([^"\\]|\\.)*"/ | /'([^'\\]|\\.)*'/
%ignore /\s+/
"""

TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
BIRTH_COLUMNS = ("birthdate", "birth_date", "date_of_birth", "dob", "birthday")
LIST_SEPARATORS = re.compile(r"[,;|]")

_parser: Any = None


def _lark() -> Any:
    global _parser
    if _parser is None:
        from lark import Lark

        _parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)
    return _parser


class SegmentError(ConfigurationError):
    """A ``--where`` expression that cannot be used: exit 2, naming the position."""


# -- the parsed form: a small tree of frozen nodes, evaluated against a contact's fields --------


@frozen
class Column:
    name: str
    column: int  # 1-based position in the expression, for messages


@frozen
class Literal:
    value: Any  # str, float, datetime.date or bool


@frozen
class Compare:
    left: Column | Literal
    op: str  # == != < <= > >= in "not in"
    right: Column | Literal | tuple[Literal, ...]


@frozen
class Truthy:
    column: Column


@frozen
class Not:
    operand: Node


@frozen
class All:
    operands: tuple[Node, ...]


@frozen
class AnyOf:
    operands: tuple[Node, ...]


Node = Compare | Truthy | Not | All | AnyOf


def parse(text: str, *, label: str = "--where") -> Node:
    """Parse one expression; :class:`SegmentError` names the column where it goes wrong."""
    from lark import Token, Transformer, v_args
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    if not text.strip():
        raise SegmentError(f"{label} {text!r}: empty expression")
    try:
        tree = _lark().parse(text)
    except UnexpectedEOF:
        raise SegmentError(
            f"{label} {text!r}: incomplete at column {len(text) + 1} (end of expression)"
        ) from None
    except UnexpectedToken as exc:
        token = exc.token
        if token.type == "$END":
            raise SegmentError(
                f"{label} {text!r}: incomplete at column {len(text) + 1} (end of expression)"
            ) from None
        raise SegmentError(
            f"{label} {text!r}: unexpected {str(token)!r} at column {exc.column}\n"
            f"  {text}\n  {' ' * (exc.column - 1)}^"
        ) from None
    except (UnexpectedCharacters, UnexpectedInput) as exc:
        column = getattr(exc, "column", 1)
        char = text[column - 1] if 0 < column <= len(text) else ""
        hint = ' (strings need quotes: "CA")' if char.isalpha() else ""
        raise SegmentError(
            f"{label} {text!r}: unexpected {char!r} at column {column}{hint}\n"
            f"  {text}\n  {' ' * (column - 1)}^"
        ) from None

    @v_args(inline=True)
    class Build(Transformer):
        def column(self, name: Token) -> Column:
            return Column(str(name), name.column)

        def string(self, token: Token) -> Literal:
            body = str(token)[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body))

        def number(self, token: Token) -> Literal:
            return Literal(float(token))

        def date(self, token: Token) -> Literal:
            try:
                return Literal(datetime.date.fromisoformat(str(token)))
            except ValueError:
                raise SegmentError(
                    f"{label} {text!r}: {token} at column {token.column} is not a date"
                ) from None

        def true(self) -> Literal:
            return Literal(True)

        def false(self) -> Literal:
            return Literal(False)

        def list_(self, *items: Literal) -> tuple[Literal, ...]:
            return tuple(items)

        def comparison(self, left: Any, op: Token, right: Any) -> Compare:
            return Compare(left, str(op), right)

        def member(self, left: Any, right: Any) -> Compare:
            return Compare(left, "in", right)

        def not_member(self, left: Any, right: Any) -> Compare:
            return Compare(left, "not in", right)

        def truthy(self, name: Token) -> Truthy:
            return Truthy(Column(str(name), name.column))

        def negate(self, operand: Node) -> Not:
            return Not(operand)

        def all_(self, *operands: Node) -> Node:
            return operands[0] if len(operands) == 1 else All(tuple(operands))

        def any_(self, *operands: Node) -> Node:
            return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    try:
        return Build().transform(tree)
    except Exception as exc:  # lark wraps errors raised in callbacks
        original = getattr(exc, "orig_exc", exc)
        if isinstance(original, SegmentError):
            raise original from None
        raise


def columns_of(node: Node) -> Iterator[Column]:
    """Every column the expression reads."""
    if isinstance(node, Compare):
        for side in (node.left, node.right):
            if isinstance(side, Column):
                yield side
    elif isinstance(node, Truthy):
        yield node.column
    elif isinstance(node, Not):
        yield from columns_of(node.operand)
    else:
        for operand in node.operands:
            yield from columns_of(operand)


# -- evaluation ---------------------------------------------------------------------------------


def _as_kind(value: Any, like: Any) -> Any:
    """``value`` (text) read as the kind of ``like``; None when it cannot be."""
    if value is None:
        return None
    if isinstance(like, bool):
        text = str(value).strip().lower()
        return text in TRUE_WORDS if text else None
    if isinstance(like, float):
        try:
            return float(str(value).strip())
        except ValueError:
            return None
    if isinstance(like, datetime.date):
        try:
            return datetime.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            return None
    return str(value)


def _items(value: Any) -> list[str]:
    return [item.strip() for item in LIST_SEPARATORS.split(str(value)) if item.strip()]


_ORDER: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def age_on(born: datetime.date, today: datetime.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class Evaluator:
    """Evaluates expressions against a contact's fields (the reference semantics)."""

    def __init__(self, today: datetime.date | None = None) -> None:
        self.today = today or datetime.date.today()

    def value(self, fields: Mapping[str, Any], column: Column) -> Any:
        value = fields.get(column.name)
        if value is None and column.name == "age" and "age" not in fields:
            born = next((fields[c] for c in BIRTH_COLUMNS if fields.get(c)), None)
            date = _as_kind(born, datetime.date.min) if born else None
            return None if date is None else str(age_on(date, self.today))
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    def side(self, fields: Mapping[str, Any], side: Column | Literal) -> tuple[Any, bool]:
        """The side's value, and whether it is a literal."""
        if isinstance(side, Literal):
            return side.value, True
        return self.value(fields, side), False

    def holds(self, node: Node, fields: Mapping[str, Any]) -> bool:
        if isinstance(node, All):
            return all(self.holds(n, fields) for n in node.operands)
        if isinstance(node, AnyOf):
            return any(self.holds(n, fields) for n in node.operands)
        if isinstance(node, Not):
            return not self.holds(node.operand, fields)
        if isinstance(node, Truthy):
            value = self.value(fields, node.column)
            return value is not None and str(value).strip().lower() in TRUE_WORDS
        return self.compare(node, fields)

    def compare(self, node: Compare, fields: Mapping[str, Any]) -> bool:
        left, left_literal = self.side(fields, node.left)
        if left is None:
            return False
        if isinstance(node.right, tuple):  # column in ("a", "b")
            found = False
            for item in node.right:
                mine = _as_kind(left, item.value) if not left_literal else left
                if mine is not None and mine == item.value:
                    found = True
                    break
            return found if node.op == "in" else not found
        right, right_literal = self.side(fields, node.right)
        if right is None:
            return False
        if node.op in ("in", "not in"):  # "edibles" in tags
            found = str(left) in _items(right) if not right_literal else str(left) in str(right)
            return found if node.op == "in" else not found
        if left_literal and not right_literal:
            left, right, op = right, left, _flipped(node.op)
            left_literal, right_literal = False, True
        else:
            op = node.op
        if right_literal:
            left = _as_kind(left, right) if not left_literal else left
        elif left_literal:
            right = _as_kind(right, left)
        else:
            left, right = str(left), str(right)
        if left is None or right is None or type(left) is not type(right):
            return False
        return _ORDER[op](left, right)


def _flipped(op: str) -> str:
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)


# -- a campaign's segment ---------------------------------------------------------------------


@define
class Segment:
    """Every ``--where`` of a run; filters a stream of records, counting what it leaves out."""

    expressions: tuple[str, ...]
    nodes: tuple[Node, ...]
    evaluator: Evaluator
    left_out: int = 0
    _checked: bool = False

    @classmethod
    def parse(cls, expressions: Sequence[str], today: datetime.date | None = None) -> Segment:
        nodes = tuple(parse(text) for text in expressions)
        return cls(tuple(expressions), nodes, Evaluator(today))

    def holds(self, fields: Mapping[str, Any]) -> bool:
        return all(self.evaluator.holds(node, fields) for node in self.nodes)

    def check_columns(self, columns: Iterable[str], where: str) -> None:
        """Every column the expressions read exists (``age`` may come from a birth date)."""
        known = set(columns)
        for text, node in zip(self.expressions, self.nodes, strict=True):
            for column in columns_of(node):
                if column.name in known:
                    continue
                if column.name == "age" and known.intersection(BIRTH_COLUMNS):
                    continue
                import difflib  # only a misspelt name needs it

                close = difflib.get_close_matches(column.name, sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else f'; values need quotes: "{column.name}"'
                raise SegmentError(
                    f"--where {text!r}: no column {column.name!r} (column {column.column} of the "
                    f"expression) in {where} (columns: {', '.join(sorted(known))}){hint}"
                )

    def filter(
        self, records: Iterable[SourceRecord | Contact | Rejected], where: str
    ) -> Iterator[SourceRecord | Contact | Rejected]:
        """The records in the segment, streamed; rejected records pass (they are reported)."""
        for record in records:
            if isinstance(record, (SourceRecord, Contact)):
                if not self._checked:
                    self.check_columns(record.fields, where)
                    self._checked = True
                if not self.holds(record.fields):
                    self.left_out += 1
                    continue
            yield record
