"""The feedback tables (tierii_core.feedback_store) and what `tierii status` shows from them:
delivered, bounces, complaints, rates, and the warning and error lines at Gmail's 0.1% / 0.3%."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli
from tierii_core.feedback_store import COMPLAINT, HARD, SOFT, Event, FeedbackStore
from tierii_core.journal import SqliteJournal, key_of
from tierii_core.models import Outcome, Status


def sent_campaign(state: Path, count: int, name: str = "spring") -> list[str]:
    emails = [f"person{i}@example.com" for i in range(count)]
    journal = SqliteJournal(state)
    journal.open_campaign(name, "contacts.csv", "t.mustache", ["outbox"])
    journal.record(name, [(key_of(e), "src", Outcome(e, Status.SENT, "outbox")) for e in emails])
    journal.close()
    return emails


def note(state: Path, report: str, events: list[Event]) -> None:
    store = FeedbackStore(state)
    store.record(report, "test", "bounce", events)
    store.close()


def status(state: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TIERII_STATE_DIR", str(state))
    return CliRunner().invoke(cli, ["status", *args])


@pytest.mark.parametrize(
    ("complaints", "line"),
    [
        (1, None),  # 0.1%: at the line, not past it
        (2, "warning: complaint rate 0.20% is past 0.1%"),
        (3, "warning: complaint rate 0.30% is past 0.1%"),
        (4, "error: complaint rate 0.40% is past 0.3%"),
    ],
)
def test_status_warns_past_one_per_mille_and_errs_past_three(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, complaints: int, line: str | None
) -> None:
    emails = sent_campaign(tmp_path, 1000)
    note(tmp_path, "r1", [Event(e, COMPLAINT, "abuse", "spring", 1.0) for e in emails[:complaints]])

    result = status(tmp_path, monkeypatch)

    assert result.exit_code == 0, result.output
    assert f"complaints: {complaints}" in result.output
    if line is None:
        assert "warning:" not in result.output and "error:" not in result.output
    else:
        assert line in result.output


def test_status_counts_addresses_once_and_computes_rates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emails = sent_campaign(tmp_path, 200)
    sent_campaign(tmp_path, 5, name="other")
    note(tmp_path, "r1", [Event(emails[0], HARD, "550 5.1.1", "spring", 1.0)])
    note(tmp_path, "r2", [Event(emails[0], HARD, "550 5.1.1", "spring", 2.0)])  # the same address again
    note(
        tmp_path,
        "r3",
        [Event(emails[1], SOFT, "451", "spring", 1.0), Event(emails[2], SOFT, "451", "spring", 1.0)],
    )
    note(tmp_path, "r4", [Event(emails[3], COMPLAINT, "abuse", "spring", 1.0)])
    note(tmp_path, "r5", [Event("person0@example.com", COMPLAINT, "abuse", "other", 1.0)])

    result = status(tmp_path, monkeypatch, "spring", "--json")

    assert json.loads(result.output)["feedback"] == {
        "delivered": 199,
        "hard_bounces": 1,
        "soft_bounces": 2,
        "complaints": 1,
        "unsubscribes_by_mail": 0,
        "bounce_rate": 0.005,
        "complaint_rate": round(1 / 199, 6),
    }


def test_status_without_any_feedback_shows_zeros(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent_campaign(tmp_path, 3)
    result = status(tmp_path, monkeypatch)
    assert result.exit_code == 0
    assert "delivered: 3  hard bounces: 0  soft bounces: 0  complaints: 0" in result.output


def test_a_report_is_recorded_once_with_its_events(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path)
    event = Event("ana@example.com", SOFT, "451", "", 100.0)
    store.record("r1", "file 1", "bounce", [event])
    store.record("r1", "file 1", "bounce", [event])
    assert store.processed_kind("r1") == "bounce" and store.processed_kind("r2") is None
    assert store.reports() == 1 and store.soft_bounces("ana@example.com", since=0) == 1
    assert store.soft_bounces("ana@example.com", since=0, besides="r1") == 0
    assert store.soft_bounces("ana@example.com", since=101) == 0
    store.close()
    assert stat.S_IMODE((tmp_path / "journal.sqlite3").stat().st_mode) == 0o600
