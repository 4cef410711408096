"""From a source's record to a Contact (or a Rejected record): one way for every source.

Sources read rows their own way (CSV lines, database rows, API pages) and hand each row's
fields here: the address is checked and normalised, repeated addresses are rejected, and the
reasons read the same whatever the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tierii_core.addresses import InvalidAddress, normalise_address
from tierii_core.dedupe import SeenAddresses
from tierii_core.models import Contact, Rejected

#: codes of :class:`Rejected` records; only a repeat is an exclusion, the others are failures
EMPTY = "empty-address"
INVALID = "invalid-address"
REPEATED = "repeated-address"
UNREADABLE = "unreadable"


def find_email_column(columns: Sequence[str]) -> int | None:
    """The index of the ``email`` column (any case), or None."""
    return next((i for i, name in enumerate(columns) if name.strip().lower() == "email"), None)


def to_contact(
    fields: dict[str, Any], email_key: str, origin: str, seen: SeenAddresses
) -> Contact | Rejected:
    """``fields`` (every column, a template variable each) as a Contact, or why it cannot be one.

    The address in ``fields[email_key]`` is replaced by its normalised form.
    """
    address = (fields.get(email_key) or "").strip()
    if not address:
        return Rejected(origin, "empty email address", code=EMPTY)
    try:
        email = normalise_address(address)
    except InvalidAddress as exc:
        return Rejected(origin, f"invalid email address {address!r}: {exc}", address, INVALID)
    if not seen.add(email):
        return Rejected(origin, f"repeated address {email}", email, REPEATED)
    fields[email_key] = email
    return Contact(email, fields, origin)
