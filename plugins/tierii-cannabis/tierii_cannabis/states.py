"""USPS codes of the states, the District of Columbia and the territories."""

from __future__ import annotations

USPS_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "  # noqa: SIM905 (words read better than quoted strings)
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "  # the 50 states
    "DC AS GU MP PR VI".split()  # the District of Columbia and the territories
)
