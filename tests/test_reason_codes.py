"""Reasons carry a code: the journal keeps it, and ``tierii status``, the report and the run's
summary group by it; outcomes recorded before codes are grouped by their text."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core import hookimpl
from tierii_core.cli import cli
from tierii_core.components import ContactSource
from tierii_core.contacts import EMPTY, INVALID, REPEATED
from tierii_core.decisions import SUPPRESSED
from tierii_core.journal import SqliteJournal, check_state_dir, reason_group
from tierii_core.models import Contact, Outcome, Rejected, Status
from tierii_core.plugins import make_plugin_manager
from tierii_core.report import build
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader
from tierii_core.suppression import Suppressor

RECORDS: list = []
SEEN: list[Outcome] = []


class ListSource(ContactSource):
    name = "list"
    patterns = ("list:*",)

    def __iter__(self):
        yield from RECORDS


class Plugin:
    @hookimpl
    def tierii_contact_sources(self):
        return [ListSource]

    @hookimpl
    def tierii_batch_finished(self, run, outcomes):
        SEEN.extend(outcomes)


@pytest.fixture(autouse=True)
def reset(monkeypatch: pytest.MonkeyPatch) -> None:
    RECORDS.clear()
    SEEN.clear()
    monkeypatch.setenv("TIERII_TRANSACTIONAL", "true")


def run(tmp_path: Path, *, dry_run: bool = False) -> tuple[Campaign, object]:
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hi\nFrom: shop@example.com\n\nHello {{name}}\n")
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Plugin())
    settings = {"TIERII_PROVIDER": "outbox", "TIERII_OUTBOX_DIR": str(tmp_path / "mail")}
    campaign = Campaign(pm, SettingsReader(settings), SendOptions("list:x", template, dry_run=dry_run))
    campaign.prepare(need_provider=not dry_run)
    return campaign, campaign.run()


def test_every_rejection_and_the_suppressed_carry_their_code_into_the_journal(tmp_path: Path) -> None:
    Suppressor(check_state_dir(Path(".tierii"))).suppress("zed@example.com", "asked", "test")
    RECORDS.extend(
        [
            Contact("ann@example.com", {"name": "Ann"}, "list:1"),
            Contact("ann@example.com", {"name": "Ann again"}, "list:2"),  # the core finds the repeat
            Contact("zed@example.com", {"name": "Zed"}, "list:3"),
            Rejected("list:4", "invalid email address 'x': no @", "x", INVALID),
            Rejected("list:5", "empty email address", code=EMPTY),
        ]
    )
    campaign, summary = run(tmp_path)
    assert summary.excluded_by_reason == {"repeated address": 1, "suppressed": 1}
    assert [o.code for o in SEEN if o.status is Status.SENT] == [None]  # the first Ann
    assert {o.email: o.code for o in SEEN if o.status is not Status.SENT} == {
        "ann@example.com": REPEATED,
        "zed@example.com": SUPPRESSED,
        "x": INVALID,
        "": EMPTY,
    }
    journal = SqliteJournal(Path(".tierii"), read_only=True)
    try:
        codes = {r.origin: r.code for r in journal.recipients(campaign.campaign_id)}
    finally:
        journal.close()
    assert codes == {
        "list:1": None,
        "list:2": REPEATED,
        "list:3": SUPPRESSED,
        "list:4": INVALID,
        "list:5": EMPTY,
    }


def test_a_source_from_before_codes_is_grouped_by_its_text(tmp_path: Path) -> None:
    RECORDS.extend(
        [
            Contact("ann@example.com", {"name": "Ann"}, "list:1"),
            Rejected("list:2", "repeated address ann@example.com", "ann@example.com"),  # no code
        ]
    )
    _, summary = run(tmp_path)
    assert summary.excluded_by_reason == {"repeated address": 1}
    assert [o.code for o in SEEN if o.status is Status.EXCLUDED] == [REPEATED]


def test_the_code_decides_the_group_and_old_outcomes_fall_back_to_their_text() -> None:
    assert reason_group("repeated address a@example.com", REPEATED) == "repeated address"
    assert reason_group("anything a plugin wrote", SUPPRESSED) == "suppressed"
    assert reason_group("left out", "vip-only") == "vip-only"  # a code without a label shows as it is
    assert reason_group("repeated address a@example.com") == "repeated address"
    assert reason_group("cannabis-ca: under 21: born 2010-01-01") == "cannabis-ca: under 21"


def test_status_and_the_report_group_by_the_code_and_read_journals_from_before_codes(
    tmp_path: Path,
) -> None:
    state = check_state_dir(Path(".tierii"))
    journal = SqliteJournal(state)
    journal.open_campaign("spring", "list:x", "t.mustache", ["outbox"])
    journal.record(
        "spring",
        [
            (
                "a@example.com",
                "list:1",
                Outcome("a@example.com", Status.EXCLUDED, reason="on a list", code=SUPPRESSED),
            ),
            (
                "<list:2>",
                "list:2",
                Outcome("b@example.com", Status.EXCLUDED, reason="repeated address b", code=REPEATED),
            ),
            # recorded before codes existed: no code, the text says it
            ("<list:3>", "list:3", Outcome("c@example.com", Status.EXCLUDED, reason="repeated address c")),
        ],
    )
    journal.close()
    result = CliRunner().invoke(cli, ["status", "spring", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["excluded_by_reason"] == {"suppressed": 1, "repeated address": 2}
    journal = SqliteJournal(state, read_only=True)
    try:
        assert build(state, "spring", journal).excluded_by_reason == {"repeated address": 2, "suppressed": 1}
    finally:
        journal.close()


def test_a_dry_run_s_messages_would_send_and_are_not_pending(tmp_path: Path) -> None:
    RECORDS.extend([Contact(f"c{i}@example.com", {"name": "C"}, f"list:{i}") for i in range(3)])
    _, summary = run(tmp_path, dry_run=True)
    assert [o.status for o in SEEN] == [Status.WOULD_SEND] * 3
    assert (summary.rendered, summary.pending, summary.sent) == (3, 0, 0)


def test_campaign_campaign_still_answers_with_a_deprecation_warning(tmp_path: Path) -> None:
    campaign, _ = run(tmp_path, dry_run=True)
    with pytest.warns(DeprecationWarning, match="campaign_id"):
        assert campaign.campaign == campaign.campaign_id
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert campaign.campaign_id
