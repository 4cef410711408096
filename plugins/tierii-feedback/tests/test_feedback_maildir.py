"""End to end on a Maildir: a campaign is sent, its reports arrive, `tierii feedback process`
suppresses exactly the right addresses, `tierii status` shows the rates, the next send
excludes them; a second run changes nothing."""

from __future__ import annotations

import json
import mailbox
import stat
from pathlib import Path

from feedback_helpers import ADDRESSES, LINKS, suppressions, tierii
from feedback_mailset import render, scenario

from tierii_core.feedback_store import HARD, FeedbackStore
from tierii_feedback.processor import Processor
from tierii_feedback.settings import FeedbackSettings


def fill_maildir(path: Path, messages: tuple[tuple[str, bytes], ...]) -> mailbox.Maildir:
    box = mailbox.Maildir(str(path), create=True)
    for _, raw in messages:
        box.add(raw)
    return box


def files_in(path: Path) -> set[str]:
    return {p.name for sub in ("new", "cur") for p in (path / sub).iterdir()}


def events(state: Path) -> list[tuple[str, str, str, str]]:
    store = FeedbackStore(state, read_only=True)
    try:
        return store.events()
    finally:
        store.close()


def test_reports_suppress_exactly_the_right_addresses(campaign: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = scenario(ADDRESSES, LINKS)
    inbox = tmp_path / "Maildir"
    fill_maildir(inbox, plan.messages)

    result = tierii("feedback", "process", "--maildir", str(inbox))

    assert result.exit_code == 0, result.output
    found = suppressions(state)
    assert set(found) == set(plan.suppressed)
    for address, reason in plan.suppressed.items():
        assert found[address].startswith(reason), (address, found[address])
    assert "550-5.1.1 The email account that you tried to reach does not exist" in found[ADDRESSES[0]]
    assert "RESOLVER.ADR.RecipientNotFound" in found[ADDRESSES[1]]
    assert plan.soft_only[0] not in found  # one soft bounce is not three
    assert "cannot read this report" in result.output and "arf-broken" not in found
    # noise and the unreadable report stay where they were; reports went to the processed folder
    left = files_in(inbox)
    assert len(left) == plan.noise + plan.unreadable
    assert len(files_in(inbox / ".TierII-Processed")) == len(plan.messages) - len(left)

    recorded = events(state)
    by_address = {(e[1], e[2]): e[0] for e in recorded}
    assert by_address[(ADDRESSES[0], "hard")] == "restock"  # matched to the campaign that sent it
    assert by_address[("xxxxx@local.ie", "hard")] == ""  # never sent by us: no campaign
    assert sum(1 for e in recorded if e[1] == ADDRESSES[6] and e[2] == "soft") == 3


def test_a_second_run_changes_nothing(campaign: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = scenario(ADDRESSES, LINKS)
    inbox = tmp_path / "Maildir"
    fill_maildir(inbox, plan.messages)
    assert tierii("feedback", "process", "--maildir", str(inbox)).exit_code == 0
    before = (suppressions(state), events(state), files_in(inbox), files_in(inbox / ".TierII-Processed"))

    # the same reports delivered again (a copy of the processed folder back in new/) count once
    for name in files_in(inbox / ".TierII-Processed"):
        (inbox / "new" / name.split(":")[0]).write_bytes(
            (inbox / ".TierII-Processed" / "cur" / name).read_bytes()
        )
    again = tierii("feedback", "process", "--maildir", str(inbox))

    assert again.exit_code == 0, again.output
    assert "0 newly suppressed" in again.output
    assert (suppressions(state), events(state)) == before[:2]
    assert files_in(inbox) == before[2]


def test_status_shows_bounces_complaints_and_rates(campaign: Path, tmp_path: Path) -> None:
    plan = scenario(ADDRESSES, LINKS)
    inbox = tmp_path / "Maildir"
    fill_maildir(inbox, plan.messages)
    assert tierii("feedback", "process", "--maildir", str(inbox)).exit_code == 0

    shown = tierii("status", "restock")
    data = json.loads(tierii("status", "restock", "--json").output)["feedback"]

    # 10 sent; ana and ben bounced hard; fay and gus soft; cara and dev complained (2 of 8 delivered)
    assert data == {
        "delivered": 8,
        "hard_bounces": 2,
        "soft_bounces": 2,
        "complaints": 2,
        "unsubscribes_by_mail": 1,
        "bounce_rate": 0.2,
        "complaint_rate": 0.25,
    }
    assert "delivered: 8  hard bounces: 2  soft bounces: 2  complaints: 2" in shown.output
    assert "error: complaint rate 25.00% is past 0.3%" in shown.output


def test_the_next_send_excludes_them_as_suppressed(campaign: Path, tmp_path: Path) -> None:
    plan = scenario(ADDRESSES, LINKS)
    inbox = tmp_path / "Maildir"
    fill_maildir(inbox, plan.messages)
    assert tierii("feedback", "process", "--maildir", str(inbox)).exit_code == 0

    result = tierii("send", "contacts.csv", "-t", "t.mustache", "--campaign", "next", "--report", "r.json")

    assert result.exit_code == 0, result.output
    report = json.loads((campaign / "r.json").read_text())
    ours = {a for a in plan.suppressed if a in ADDRESSES}
    assert report["excluded_by_reason"] == {"suppressed": len(ours)}
    assert report["sent"] == len(ADDRESSES) - len(ours)


def test_the_state_store_stays_private(campaign: Path, tmp_path: Path) -> None:
    plan = scenario(ADDRESSES, LINKS)
    inbox = tmp_path / "Maildir"
    fill_maildir(inbox, plan.messages)
    assert tierii("feedback", "process", "--maildir", str(inbox)).exit_code == 0
    database = tmp_path / "state" / "journal.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0


def test_not_a_maildir_is_named(campaign: Path, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    result = tierii("feedback", "process", "--maildir", str(tmp_path / "plain"))
    assert result.exit_code == 2
    assert f"--maildir {tmp_path / 'plain'}: not a Maildir" in result.output


def test_exactly_one_source_is_asked_for(campaign: Path) -> None:
    result = tierii("feedback", "process")
    assert result.exit_code == 2 and "exactly one of --maildir PATH or --imap" in result.output


def test_a_campaign_sent_after_processing_started_is_matched(campaign: Path, tmp_path: Path) -> None:
    """`watch` runs for days: a campaign sent meanwhile gets its reports."""
    processor = Processor(tmp_path / "state", FeedbackSettings())
    try:
        (campaign / "late.csv").write_text("email,name\nlate@example.com,Late\n")
        assert tierii("send", "late.csv", "-t", "t.mustache", "--campaign", "late").exit_code == 0
        handled = processor.handle(render("gmail-5.1.1.eml", "late@example.com", 99), "late")
    finally:
        processor.close()
    assert [(e.email, e.kind, e.campaign) for e in handled.events] == [("late@example.com", HARD, "late")]
