"""From a source's record to a Contact (or a Rejected record): one way for every source.

Sources read rows their own way (CSV lines, database rows, API pages) and yield each one as
a :class:`~tierii_core.models.SourceRecord`; :func:`contacts_from` checks and normalises the
address, rejects repeats, and the reasons read the same whatever the source. Sources written
before ``SourceRecord`` existed yield :class:`Contact`: their addresses are checked again
here, so that an empty or invalid one can never be sent to.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tierii_core.addresses import InvalidAddress, normalise_address
from tierii_core.dedupe import SeenAddresses
from tierii_core.models import Contact, Rejected, SourceRecord

#: codes of :class:`Rejected` records; only a repeat is an exclusion, the others are failures
EMPTY = "empty-address"
INVALID = "invalid-address"
REPEATED = "repeated-address"
UNREADABLE = "unreadable"
#: records read at a time once the seen addresses are in SQLite (one query per batch)
DEDUPE_BATCH = 500


def find_email_column(columns: Sequence[str]) -> int | None:
    """The index of the ``email`` column (any case), or None."""
    return _email_column(tuple(columns))


@functools.lru_cache(maxsize=64)  # every record of a source has the same columns
def _email_column(columns: tuple[str, ...]) -> int | None:
    return next((i for i, name in enumerate(columns) if name.strip().lower() == "email"), None)


def to_contact(
    fields: dict[str, Any], email_key: str, origin: str, seen: SeenAddresses | None
) -> Contact | Rejected:
    """``fields`` (every column, a template variable each) as a Contact, or why it cannot be one.

    The address in ``fields[email_key]`` is replaced by its normalised form; a repeat is
    rejected unless ``seen`` is None (the caller de-duplicates a batch at once).
    """
    address = (fields.get(email_key) or "").strip()
    if not address:
        return Rejected(origin, "empty email address", code=EMPTY)
    try:
        email = normalise_address(address)
    except InvalidAddress as exc:
        return Rejected(origin, f"invalid email address {address!r}: {exc}", address, INVALID)
    if seen is not None and not seen.add(email):
        return Rejected(origin, f"repeated address {email}", email, REPEATED)
    fields[email_key] = email
    return Contact(email, fields, origin)


def contacts_from(items: Iterable[SourceRecord | Contact | Rejected]) -> Iterator[Contact | Rejected]:
    """What a source yields, as the core uses it: every address checked, normalised and
    de-duplicated here, in the source's order, whatever the source.

    Once a campaign's addresses outgrow memory (:class:`SeenAddresses`), records are read
    :data:`DEDUPE_BATCH` at a time, so that the repeats are found in one query per batch."""
    with SeenAddresses() as seen:
        items = iter(items)
        for item in items:
            if not seen.spilled:
                yield _checked(item, seen)
                continue
            batch = [item, *itertools.islice(items, DEDUPE_BATCH - 1)]
            checked = [_checked(record, None) for record in batch]
            firsts = iter(seen.add_many([c.email for c in checked if isinstance(c, Contact)]))
            for record in checked:
                if isinstance(record, Contact) and not next(firsts):
                    record = Rejected(
                        record.origin, f"repeated address {record.email}", record.email, REPEATED
                    )
                yield record


def _checked(item: SourceRecord | Contact | Rejected, seen: SeenAddresses | None) -> Contact | Rejected:
    """One record checked and normalised; de-duplicated too unless ``seen`` is None."""
    if isinstance(item, SourceRecord):
        fields = dict(item.fields)
        columns = tuple(fields)
        key = _email_column(columns)
        if key is None:
            return Rejected(item.origin, "no 'email' field", code=EMPTY)
        return to_contact(fields, columns[key], item.origin, seen)
    if isinstance(item, Contact):
        return _recheck(item, seen)
    return item


def _recheck(contact: Contact, seen: SeenAddresses | None) -> Contact | Rejected:
    """A Contact from a source that built it itself: the address is checked all the same."""
    if not contact.email.strip():
        return Rejected(contact.origin, "empty email address", code=EMPTY)
    try:
        email = normalise_address(contact.email)
    except InvalidAddress as exc:
        return Rejected(
            contact.origin, f"invalid email address {contact.email!r}: {exc}", contact.email, INVALID
        )
    if seen is not None and not seen.add(email):
        return Rejected(contact.origin, f"repeated address {email}", email, REPEATED)
    return contact if email == contact.email else Contact(email, contact.fields, contact.origin)
