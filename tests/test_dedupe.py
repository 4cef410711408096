"""Repeated addresses: the same answers in memory, spilled to SQLite, one at a time or by batch."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core import contacts
from tierii_core.contacts import contacts_from
from tierii_core.dedupe import SeenAddresses
from tierii_core.models import Contact, Rejected, SourceRecord

addresses = st.lists(st.sampled_from([f"{c}@example.com" for c in "abcdefghijAB"]), max_size=60)


@given(st.lists(addresses, max_size=6), st.integers(min_value=0, max_value=8))
def test_batches_answer_as_one_address_at_a_time_would_across_the_spill(
    batches: list[list[str]], in_memory: int
) -> None:
    expected = set()
    with SeenAddresses(in_memory=in_memory) as seen:
        for batch in batches:
            firsts = seen.add_many(batch)
            wanted = []
            for key in batch:
                wanted.append(key.lower() not in expected)
                expected.add(key.lower())
            assert firsts == wanted


def test_a_large_campaign_spills_and_keeps_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    with SeenAddresses(in_memory=100) as seen:
        assert all(seen.add(f"u{i}@example.com") for i in range(100)) and not seen.spilled
        assert seen.add_many([f"u{i}@example.com" for i in range(95, 1200)]) == [False] * 5 + [True] * 1100
        assert seen.spilled
        assert seen.add_many(["U1199@example.com", "new@example.com", "new@example.com"]) == [
            False,
            True,
            False,
        ]
        assert not seen.add("u700@example.com")


def _records(n: int) -> list[SourceRecord]:
    # every third address repeats one seen 7 rows earlier; one in 50 is invalid
    rows = []
    for i in range(n):
        address = f"u{i - 7 if i % 3 == 0 and i >= 7 else i}@Example.com"
        rows.append(SourceRecord({"email": "not an address" if i % 50 == 49 else address}, f"f:{i + 2}"))
    return rows


def test_records_read_in_batches_after_the_spill_get_the_same_verdicts_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_memory = list(contacts_from(_records(3000)))
    monkeypatch.setattr(contacts, "SeenAddresses", functools.partial(SeenAddresses, in_memory=40))
    monkeypatch.setattr(contacts, "DEDUPE_BATCH", 128)
    batched = list(contacts_from(_records(3000)))
    assert batched == in_memory
    assert sum(isinstance(r, Rejected) and r.code == contacts.REPEATED for r in batched) > 900
    assert all(r.email == r.email.lower() for r in batched if isinstance(r, Contact))
