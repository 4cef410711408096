"""The queue of suppressions waiting for the state database: durable, torn-write tolerant,
and never losing an entry appended while applied ones are removed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tierii_core.pending import Pending, PendingSuppressions

pendings = st.builds(
    Pending,
    entry=st.emails().map(str.lower),
    reason=st.text(max_size=30),
    source=st.text(max_size=10),
    created_at=st.floats(0, 2e9, allow_nan=False),
)


@given(st.lists(st.tuples(pendings, st.booleans()), max_size=12))
def test_every_whole_append_reads_back_in_order_whatever_was_torn_before_it(
    steps: list[tuple[Pending, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        queue = PendingSuppressions(Path(directory))
        for item, torn_after in steps:
            queue.append(item)
            if torn_after:  # a process killed in the middle of its write
                with open(queue.path, "ab") as handle:
                    handle.write(b'{"entry":"half-writ')
        assert [item for _, item in queue.entries()] == [item for item, _ in steps]


def test_removing_applied_lines_keeps_what_was_appended_since(tmp_path: Path) -> None:
    queue = PendingSuppressions(tmp_path)
    first, second, third = (Pending(f"u{i}@example.com", "r", "s", float(i)) for i in range(3))
    queue.append(first)
    queue.append(second)
    applied = [line for line, _ in queue.entries()]  # a writer read these and applied them
    queue.append(third)  # meanwhile the endpoint queued another
    queue.remove(applied)
    assert [item for _, item in PendingSuppressions(tmp_path).entries()] == [third]
    queue.remove([line for line, _ in queue.entries()])
    assert queue.entries() == [] and queue.path.read_bytes() == b""
