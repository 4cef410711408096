"""This plugin's own behaviour, beyond the contract."""

from __future__ import annotations

from tierii_core.contacts import contacts_from
from tierii_core.models import Contact, Rejected
from tierii_skeleton.source import SkeletonSettings, SkeletonSource


def test_a_line_that_is_not_json_is_rejected_and_the_rest_go_on(tmp_path):
    path = tmp_path / "contacts.jsonl"
    path.write_text('{"email": "ann@example.com"}\n{oops\n\n{"email": "bob@example.com", "visits": 3}\n')
    records = list(contacts_from(SkeletonSource(str(path), SkeletonSettings())))  # as the core reads it
    assert [type(r) for r in records] == [Contact, Rejected, Contact]
    assert records[1].origin == f"{path}:2" and records[1].reason.startswith("not JSON")
    assert records[2].fields["visits"] == "3"  # every value is text for the templates
