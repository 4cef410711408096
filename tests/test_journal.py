"""The journal: a Hypothesis state machine against a model, crashes included, and storage checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tierii_core.errors import ConfigurationError
from tierii_core.journal import SqliteJournal, check_state_dir, key_of
from tierii_core.models import Outcome, Status

EMAILS = [f"r{i}@example.com" for i in range(6)]
FINAL = [Status.SENT, Status.FAILED, Status.UNKNOWN, Status.PENDING]


class JournalMachine(RuleBasedStateMachine):
    """Claims, outcomes, decided records and crashes; the journal always agrees with the model."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="journal-"))
        self.journal = SqliteJournal(self.dir)
        self.journal.open_campaign("c", "src", "tpl", ["outbox"])
        self.model: dict[str, str] = {}  # key -> state ("sending" while in flight)
        self.attempts: dict[str, int] = {}

    def teardown(self) -> None:
        self.journal.close()

    @rule(emails=st.sets(st.sampled_from(EMAILS), min_size=1, max_size=4))
    def claim(self, emails: set[str]) -> None:
        self.journal.claim("c", [(key_of(e), "src:1") for e in sorted(emails)])
        for e in emails:
            self.model[e] = "sending"
            self.attempts[e] = self.attempts.get(e, 0) + 1

    @precondition(lambda self: any(s == "sending" for s in self.model.values()))
    @rule(data=st.data())
    def outcome(self, data: st.DataObject) -> None:
        sending = sorted(e for e, s in self.model.items() if s == "sending")
        email = data.draw(st.sampled_from(sending))
        status = data.draw(st.sampled_from(FINAL))
        self.journal.record("c", [(key_of(email), "src:1", Outcome(email, status, "outbox", reason="r"))])
        self.model[email] = status.value

    @rule(email=st.sampled_from(EMAILS), status=st.sampled_from([Status.EXCLUDED, Status.FAILED]))
    def decided_without_provider(self, email: str, status: Status) -> None:
        self.journal.record("c", [(key_of(email), "src:1", Outcome(email, status, reason="decided"))])
        self.model[email] = status.value

    @rule()
    def crash_and_rerun(self) -> None:
        """The process dies (no close); the next run reopens: in-flight recipients are unknown."""
        self.journal._db.close()  # like SIGKILL: the lock goes with the process
        for handle in self.journal._locks.values():
            handle.close()
        self.journal = SqliteJournal(self.dir)
        stale = self.journal.open_campaign("c", "src", "tpl", ["outbox"])
        assert stale == sum(1 for s in self.model.values() if s == "sending")
        self.model = {e: ("unknown" if s == "sending" else s) for e, s in self.model.items()}

    @invariant()
    def agrees_with_the_model(self) -> None:
        expected = {e: Status.PENDING if s == "sending" else Status(s) for e, s in self.model.items()}
        assert self.journal.states("c", EMAILS) == expected
        counts = self.journal.counts("c")
        assert sum(counts.values()) == len(self.model)
        for status in Status:
            assert counts[status.value] == sum(1 for s in expected.values() if s is status)

    @invariant()
    def attempts_count_claims(self) -> None:
        recorded = {r.email: r.attempts for r in self.journal.recipients("c")}
        assert {e: recorded[e] for e in self.attempts} == self.attempts


TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_status_reports_in_flight_recipients_of_a_dead_run_as_unknown(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path)
    journal.open_campaign("c", "s", "t", ["outbox"])
    journal.claim("c", [("a@example.com", "s:2")])
    assert journal.counts("c")["pending"] == 1  # this run is alive
    reader = SqliteJournal(tmp_path, read_only=True)
    assert reader.counts("c")["pending"] == 1  # another process sees the live lock
    journal._db.close()
    for handle in journal._locks.values():
        handle.close()
    assert reader.counts("c")["unknown"] == 1  # the run died with it in flight
    reader.close()


def test_one_run_of_a_campaign_at_a_time(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path)
    first.open_campaign("c", "s", "t", ["outbox"])
    second = SqliteJournal(tmp_path)
    with pytest.raises(ConfigurationError, match="campaign c is being sent by another tierii process"):
        second.open_campaign("c", "s", "t", ["outbox"])
    second.open_campaign("other", "s", "t", ["outbox"])
    first.close()
    second.close()


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
