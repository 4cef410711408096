"""A ``--where`` segment's simple conditions as the query's WHERE clause.

Only what the database compares exactly as TierII does is pushed down: a text column
``==``, ``!=``, ``in`` or ``not in`` string literals, at the top level of the expressions
(joined by ``and``). The core still checks every row it gets, so what is not pushed down is
filtered there, and the database never leaves out a row the segment would keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, String, Table

from tierii_core.segments import All, Column, Compare, Literal, Node, Segment


def conditions(segment: Segment, reflected: Table, plain: Any) -> list[ColumnElement[bool]]:
    """The WHERE conditions for the parts of ``segment`` the database can apply on ``plain``."""
    found = []
    for node in _top_level(segment.nodes):
        condition = _condition(node, reflected, plain)
        if condition is not None:
            found.append(condition)
    return found


def _top_level(nodes: tuple[Node, ...]) -> Iterator[Node]:
    for node in nodes:
        if isinstance(node, All):
            yield from _top_level(node.operands)
        else:
            yield node


def _condition(node: Node, reflected: Table, plain: Any) -> ColumnElement[bool] | None:
    if not isinstance(node, Compare) or not isinstance(node.left, Column):
        return None
    name = node.left.name
    if name not in reflected.c or not isinstance(reflected.c[name].type, String):
        return None
    column = plain.c[name]
    if isinstance(node.right, Literal) and isinstance(node.right.value, str):
        if node.op == "==":
            return column == node.right.value
        if node.op == "!=":
            return column != node.right.value
        return None
    if isinstance(node.right, tuple) and all(isinstance(item.value, str) for item in node.right):
        values = [item.value for item in node.right]
        if node.op == "in":
            return column.in_(values)
        if node.op == "not in":
            return column.not_in(values)
    return None
