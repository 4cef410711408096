"""Records into batches for the pump: what the journal says is done is skipped, an unknown
delivery is reported (not resent without ``--retry-unknown``), everything else is decided by
:class:`~tierii_core.decisions.Decider`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from tierii_core.decisions import Decider
from tierii_core.journal import Journal, key_of
from tierii_core.models import Contact, Outcome, Rejected, Status
from tierii_core.options import SendOptions
from tierii_core.pump import Batch
from tierii_core.suppression import SuppressionList


def batches(
    records: Iterable[Contact | Rejected],
    size: int,
    *,
    campaign_id: str,
    journal: Journal | None,
    suppressions: SuppressionList,
    decider: Decider,
    options: SendOptions,
) -> Iterator[Batch]:
    """Batches of ``size`` records, minus those the journal says are done."""
    records = iter(records)
    while batch := list(itertools.islice(records, size)):
        keys = [record_key(r) for r in batch]
        known = journal.entries(campaign_id, keys) if journal else {}
        suppressed = suppressions.suppressed([r.email for r in batch if isinstance(r, Contact)])
        messages, decided, skipped, unknown = [], [], 0, []
        for record, key in zip(batch, keys, strict=True):
            entry = known.get(key)
            if entry is not None and (
                entry.status in (Status.SENT, Status.EXCLUDED)
                or (entry.final_failure and not options.retry_failed)
            ):
                skipped += 1
                continue
            if entry is not None and entry.status is Status.UNKNOWN and not options.retry_unknown:
                reason = "unknown since an earlier run (--retry-unknown resends)"
                unknown.append(Outcome(record.email or "", Status.UNKNOWN, reason=reason))
                continue
            decision = decider.decide(record, suppressed=record.email in suppressed)
            if decision.message is not None:
                messages.append(decision.message)
            else:
                decided.append((key, decision.origin, decision.outcome))
        yield Batch(messages, decided, skipped, unknown)


def record_key(record: Contact | Rejected) -> str:
    """A contact is keyed by its address; a rejected record by its origin, so that a repeated
    address never writes over the record of the first one."""
    if isinstance(record, Rejected):
        return key_of("", record.origin)
    return key_of(record.email)
