"""The source's records, read once: narrowed by ``--where``, each address checked, normalised
and de-duplicated (:func:`~tierii_core.contacts.contacts_from`), the first few kept for the
opening check and then handed out first, the rest streamed; ``--limit`` applied.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tierii_core.components import ContactSource
from tierii_core.contacts import contacts_from
from tierii_core.models import Contact, Rejected, SourceRecord

if TYPE_CHECKING:
    from tierii_core.segments import Segment

#: records the opening check may read to find a message to build (kept, then sent in order)
OPENING_LOOK_AT = 50


class Records:
    """One pass over a source."""

    def __init__(self, source: ContactSource, where: tuple[str, ...], limit: int | None, name: str) -> None:
        self.source = source
        self.limit = limit
        self.segment = _segment(source, where)
        stream: Iterator[SourceRecord | Contact | Rejected] = iter(source)
        if self.segment is not None:  # before de-duplication: a repeat outside the segment is no repeat
            stream = self.segment.filter(stream, name)
        self._stream: Iterator[Contact | Rejected] = contacts_from(stream)
        #: the first records, read for the opening check before anything is sent
        self.opening: list[Contact | Rejected] = list(itertools.islice(self._stream, OPENING_LOOK_AT))

    @property
    def not_in_segment(self) -> int:
        """Contacts left out by ``--where`` so far: by the source and by the core."""
        if self.segment is None:
            return 0
        return self.segment.left_out + self.source.left_out

    def __iter__(self) -> Iterator[Contact | Rejected]:
        """The opening records, then the rest (read once: a second iteration goes on from there)."""
        opening, self.opening = self.opening, []
        records: Iterator[Contact | Rejected] = itertools.chain(opening, self._stream)
        if self.limit is not None:
            records = itertools.islice(records, self.limit)
        return records


def _segment(source: ContactSource, where: tuple[str, ...]) -> Segment | None:
    """The ``--where`` segment, handed to the source to narrow what it reads where it can."""
    if not where:
        return None
    from tierii_core.segments import Segment

    segment = Segment.parse(where)
    source.narrow(segment)
    return segment
