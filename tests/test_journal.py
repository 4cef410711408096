"""The journal: a Hypothesis state machine against a model, crashes included, and storage checks."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tierii_core.errors import ConfigurationError
from tierii_core.journal import SqliteJournal, check_state_dir, keeps_message_ids, key_of
from tierii_core.models import JOURNAL_STATES, ErrorKind, Outcome, Status

EMAILS = [f"r{i}@example.com" for i in range(6)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


FINAL = [Status.SENT, Status.FAILED, Status.UNKNOWN, Status.PENDING]


class JournalMachine(RuleBasedStateMachine):
    """One process: claims, outcomes, decided records and crashes; the journal always agrees
    with the model. (Two processes sharing a campaign, on both stores: test_journal_contract.)"""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="journal-"))
        self.clock = Clock()
        self.journal = self._open()
        self.journal.open_campaign("c", "src", "tpl", ["outbox"])
        self.model: dict[str, str] = {}  # key -> state ("sending" while in flight)
        self.attempts: dict[str, int] = {}
        self.message_ids: dict[str, str] = {}  # key -> the Message-ID of its last claim that gave one
        self.sent_ids = 0

    def _open(self) -> SqliteJournal:
        return SqliteJournal(self.dir, heartbeat=None, clock=self.clock)

    def teardown(self) -> None:
        self.journal.close()

    @rule(emails=st.sets(st.sampled_from(EMAILS), min_size=1, max_size=4), with_ids=st.booleans())
    def claim(self, emails: set[str], with_ids: bool) -> None:
        items = [(key_of(e), "src:1") for e in sorted(emails)]
        ids = {}
        if with_ids:  # the runner's way; without: a caller from before Message-IDs were kept
            for e in emails:
                self.sent_ids += 1
                ids[key_of(e)] = f"<{self.sent_ids}.x@Shop.example>"
            claimed = self.journal.claim("c", items, message_ids=ids)
        else:
            claimed = self.journal.claim("c", items)
        # pending, retryable failures, absent keys and this owner's own in flight (a claim repeated
        # after a lost connection) are claimed; sent, excluded, unknown and permanent failures are
        # not (the runner skips them before it claims)
        claimable = ("pending", "failed:retry", "sending")
        assert claimed == {e for e in emails if self.model.get(e, "pending") in claimable}
        for e in claimed:
            self.model[e] = "sending"
            self.attempts[e] = self.attempts.get(e, 0) + 1
            if e in ids:
                self.message_ids[e] = ids[e]

    @precondition(lambda self: any(s == "sending" for s in self.model.values()))
    @rule(data=st.data())
    def outcome(self, data: st.DataObject) -> None:
        sending = sorted(e for e, s in self.model.items() if s == "sending")
        email = data.draw(st.sampled_from(sending))
        status = data.draw(st.sampled_from(FINAL))
        kind = ErrorKind.TRANSIENT if status is Status.FAILED else None
        outcome = Outcome(email, status, "outbox", reason="r", kind=kind)
        self.journal.record("c", [(key_of(email), "src:1", outcome)])
        self.model[email] = "failed:retry" if kind else status.value

    @rule(email=st.sampled_from(EMAILS), status=st.sampled_from([Status.EXCLUDED, Status.FAILED]))
    def decided_without_provider(self, email: str, status: Status) -> None:
        kind = ErrorKind.PERMANENT if status is Status.FAILED else None
        self.journal.record(
            "c", [(key_of(email), "src:1", Outcome(email, status, reason="decided", kind=kind))]
        )
        if self.model.get(email) != "sent":  # a sent line never changes
            self.model[email] = status.value

    @rule()
    def crash_and_rerun(self) -> None:
        """The process dies (no close); a run after its lease ran out reopens: in-flight
        recipients are unknown."""
        self.journal._db.close()  # like SIGKILL: the owner row stays until its lease runs out
        self.journal.lease.started = False
        self.clock.advance(61)
        self.journal = self._open()
        stale = self.journal.open_campaign("c", "src", "tpl", ["outbox"])
        assert stale == sum(1 for s in self.model.values() if s == "sending")
        self.model = {e: ("unknown" if s == "sending" else s) for e, s in self.model.items()}

    @invariant()
    def agrees_with_the_model(self) -> None:
        expected = {
            e: Status.PENDING if s == "sending" else Status(s.partition(":")[0])
            for e, s in self.model.items()
        }
        assert self.journal.states("c", EMAILS) == expected
        counts = self.journal.counts("c")
        assert sum(counts.values()) == len(self.model)
        for status in JOURNAL_STATES:
            assert counts[status.value] == sum(1 for s in expected.values() if s is status)

    @invariant()
    def message_ids_name_their_recipient(self) -> None:
        recorded = {r.email: r.message_id for r in self.journal.recipients("c")}
        assert {e: recorded[e] for e in self.message_ids} == self.message_ids
        for email, message_id in self.message_ids.items():
            found = self.journal.find_message(message_id.lower())  # Message-IDs match case-insensitively
            assert found is not None and (found.campaign, found.email) == ("c", email)
        assert self.journal.find_message(f"<{self.sent_ids + 1}.x@Shop.example>") is None

    @invariant()
    def attempts_count_claims(self) -> None:
        recorded = {r.email: r.attempts for r in self.journal.recipients("c")}
        assert {e: recorded[e] for e in self.attempts} == self.attempts


TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_status_reports_in_flight_recipients_of_a_dead_run_as_unknown(tmp_path: Path) -> None:
    clock = Clock()
    journal = SqliteJournal(tmp_path, heartbeat=None, clock=clock)
    journal.open_campaign("c", "s", "t", ["outbox"])
    journal.claim("c", [("a@example.com", "s:2")])
    assert journal.counts("c")["pending"] == 1  # this run is alive
    reader = SqliteJournal(tmp_path, read_only=True, clock=clock)
    assert reader.counts("c")["pending"] == 1  # another process sees its live lease
    journal._db.close()  # the run dies: nobody renews its lease
    clock.advance(61)
    assert reader.counts("c")["unknown"] == 1  # the run died with it in flight
    reader.close()


def test_two_runs_of_a_campaign_share_it_and_no_lock_file_is_left(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path)
    first.open_campaign("c", "s", "t", ["outbox"])
    second = SqliteJournal(tmp_path)
    second.open_campaign("c", "s", "t", ["outbox"])  # no refusal: the claims keep them apart
    assert first.claim("c", [("a@example.com", "s:1")]) == {"a@example.com"}
    assert second.claim("c", [("a@example.com", "s:1"), ("b@example.com", "s:2")]) == {"b@example.com"}
    first.close()
    second.close()
    assert not list(tmp_path.glob("*.lock"))


def test_state_dir_is_created_and_checked(tmp_path: Path) -> None:
    assert check_state_dir(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match=r"TIERII_STATE_DIR=.*file.*cannot create it"):
        check_state_dir(tmp_path / "file" / "sub")


def test_read_only_state_dir_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: use a directory no one can write
        locked = Path("/proc/self")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(ConfigurationError, match="not writable"):
        check_state_dir(locked)


def test_full_state_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tierii_core.state as state_module

    monkeypatch.setattr(state_module, "MIN_FREE_BYTES", 1 << 62)
    with pytest.raises(ConfigurationError, match="KiB free; the journal needs at least"):
        check_state_dir(tmp_path)


def test_read_only_journal_requires_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no journal in"):
        SqliteJournal(tmp_path, read_only=True)


OLD_SCHEMA = """
CREATE TABLE campaigns (id TEXT PRIMARY KEY, source TEXT NOT NULL, template TEXT NOT NULL,
    providers TEXT NOT NULL, created_at REAL NOT NULL, last_run_at REAL NOT NULL);
CREATE TABLE recipients (campaign TEXT NOT NULL REFERENCES campaigns(id), email TEXT NOT NULL,
    state TEXT NOT NULL, origin TEXT NOT NULL DEFAULT '', provider TEXT, provider_message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (campaign, email)) WITHOUT ROWID;
INSERT INTO campaigns VALUES ('c', 'src', 'tpl', 'outbox', 0, 0);
INSERT INTO recipients VALUES ('c', 'old@example.com', 'sent', 'src:1', 'outbox', NULL, 1, NULL, 0);
"""


def test_a_journal_from_before_message_ids_is_read_then_migrated_in_place(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.executescript(OLD_SCHEMA)
    db.close()
    reader = SqliteJournal(tmp_path, read_only=True)  # tierii status, tierii feedback: nothing written
    assert [(r.email, r.message_id) for r in reader.recipients("c")] == [("old@example.com", None)]
    assert reader.find_message("<1.x@shop.example>") is None

    journal = SqliteJournal(tmp_path)  # a send opens it: the column is added
    journal.open_campaign("c", "src", "tpl", ["outbox"])
    journal.claim("c", [("new@example.com", "src:2")], message_ids={"new@example.com": "<1.x@shop.example>"})
    for store in (journal, reader):  # the reader opened before (tierii feedback watch) sees it too
        found = store.find_message("<1.x@shop.example>")
        assert found is not None and (found.campaign, found.email) == ("c", "new@example.com")
    reader.close()
    plan = journal._db.execute(
        "EXPLAIN QUERY PLAN SELECT campaign FROM recipients WHERE message_id = ? COLLATE NOCASE", ("x",)
    ).fetchall()
    assert "recipients_message_id" in str(plan)  # looked up by index, not a scan of every campaign
    assert journal.states("c", ["old@example.com"]) == {"old@example.com": Status.SENT}
    journal.close()


def test_the_runner_passes_message_ids_only_to_journals_that_take_them(tmp_path: Path) -> None:
    class Before:  # a store written against the protocol before Message-IDs were kept
        def claim(self, campaign, items):
            pass

    journal = SqliteJournal(tmp_path)
    try:
        assert keeps_message_ids(journal) and not keeps_message_ids(Before())
    finally:
        journal.close()
