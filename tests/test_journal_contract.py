"""The journal's promises, on every state store (SQLite, PostgreSQL): claims taken atomically
by one owner at a time, leases that tell a live owner from a dead one, nothing sent twice,
nothing lost. The ``state_where`` fixture runs each test on both stores."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tierii_core.delivery import Delivery
from tierii_core.errors import RunStopped
from tierii_core.journal import StateJournal, key_of
from tierii_core.models import ErrorKind, Outcome, Status
from tierii_core.state import Where

LEASE = 60.0
EMAILS = [f"r{i}@example.com" for i in range(6)]
_campaigns = itertools.count()


class Clock:
    """Epoch seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def journal(where: Where, clock: Clock, **options: object) -> StateJournal:
    return StateJournal(where, lease=LEASE, heartbeat=None, clock=clock, **options)  # type: ignore[arg-type]


def _kill(dead: StateJournal) -> None:
    """Like SIGKILL: the connection goes, the owner row stays (its lease runs out by itself)."""
    dead._state.close()
    dead.lease.started = False  # a killed process releases nothing


class ClaimsMachine(RuleBasedStateMachine):
    """Two processes (journals with their own connections and owners) share a campaign: they
    claim, record outcomes, decide without a provider, die and are restarted. The model says
    which keys a claim may take; the store must agree, claim by claim."""

    where: Where

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.campaign = f"c{next(_campaigns)}"
        self.journals = {name: journal(self.where, self.clock) for name in "AB"}
        for j in self.journals.values():
            j.open_campaign(self.campaign, "src", "tpl", ["outbox"])
        # key -> (state, owner name while sending, failure kind)
        self.model: dict[str, tuple[str, str | None, str | None]] = {}
        self.owners = {name: j.owner for name, j in self.journals.items()}
        self.ids: dict[str, str] = {}
        self.serial = 0

    def teardown(self) -> None:
        for j in self.journals.values():
            j.close()

    def _may_claim(self, key: str, who: str) -> bool:
        state, owner, failure = self.model.get(key, ("pending", None, None))
        if state == "pending":
            return True
        if state == "failed":
            return failure is not None and failure != ErrorKind.PERMANENT.value
        return state == "sending" and owner == who

    @rule(who=st.sampled_from("AB"), emails=st.sets(st.sampled_from(EMAILS), min_size=1, max_size=4))
    def claim(self, who: str, emails: set[str]) -> None:
        keys = sorted(key_of(e) for e in emails)
        ids = {}
        for key in keys:
            self.serial += 1
            ids[key] = f"<{self.serial}.{self.campaign}@Shop.example>"
        claimed = self.journals[who].claim(self.campaign, [(k, "src:1") for k in keys], message_ids=ids)
        assert claimed == {k for k in keys if self._may_claim(k, who)}
        for key in claimed:
            self.model[key] = ("sending", who, None)
            self.ids[key] = ids[key]

    @precondition(lambda self: any(s == "sending" for s, _, _ in self.model.values()))
    @rule(data=st.data())
    def outcome(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, (s, _, _) in self.model.items() if s == "sending")))
        owner = self.model[key][1]
        assert owner is not None
        status = data.draw(st.sampled_from([Status.SENT, Status.FAILED, Status.UNKNOWN, Status.PENDING]))
        kind = data.draw(st.sampled_from(list(ErrorKind))) if status is Status.FAILED else None
        outcome = Outcome(key, status, "outbox", reason="r", kind=kind)
        self.journals[owner].record(self.campaign, [(key, "src:1", outcome)])
        self.model[key] = (status.value, None, kind.value if kind else None)

    @rule(who=st.sampled_from("AB"), email=st.sampled_from(EMAILS))
    def decided_without_provider(self, who: str, email: str) -> None:
        """A rule excluded the recipient: recorded unless it is sent or another owner's in flight."""
        key = key_of(email)
        outcome = Outcome(key, Status.EXCLUDED, reason="decided")
        self.journals[who].record(self.campaign, [(key, "src:1", outcome)])
        state, owner, _ = self.model.get(key, ("pending", None, None))
        if state != "sent" and (state != "sending" or owner == who):
            self.model[key] = ("excluded", None, None)

    @rule(who=st.sampled_from("AB"))
    def dies_and_restarts(self, who: str) -> None:
        """``who`` is killed; the other lives on (renewing its lease); past the dead one's lease a
        new process opens the campaign: the dead one's keys in flight are unknown, the live one's
        are left alone."""
        other = "B" if who == "A" else "A"
        _kill(self.journals[who])
        assert self.journals[other].renew()
        self.clock.advance(LEASE / 2)
        assert self.journals[other].renew()
        self.clock.advance(LEASE / 2 + 1)
        fresh = journal(self.where, self.clock)
        stale = fresh.open_campaign(self.campaign, "src", "tpl", ["outbox"])
        dead = [k for k, (s, owner, _) in self.model.items() if s == "sending" and owner == who]
        assert stale == len(dead)
        for key in dead:
            self.model[key] = ("unknown", None, None)
        self.journals[who] = fresh
        self.owners[who] = fresh.owner

    @invariant()
    def every_key_is_where_the_model_says(self) -> None:
        expected = {k: Status.PENDING if s == "sending" else Status(s) for k, (s, _, _) in self.model.items()}
        for j in self.journals.values():
            assert j.states(self.campaign, [key_of(e) for e in EMAILS]) == expected
            counts = j.counts(self.campaign)
            assert sum(counts.values()) == len(self.model)  # nothing lost

    @invariant()
    def in_flight_keys_belong_to_their_claimer(self) -> None:
        rows = {r.email: r for r in self.journals["A"].recipients(self.campaign)}
        for key, message_id in self.ids.items():
            found = self.journals["B"].find_message(message_id.lower())  # case-insensitive
            assert found is not None and (found.campaign, found.email) == (self.campaign, key)
            assert rows[key].message_id == message_id
        owners = {
            r[0]: r[1]
            for r in self.journals["A"]
            ._db.execute(
                "SELECT email, owner FROM recipients WHERE campaign = ? AND state = 'sending'",
                (self.campaign,),
            )
            .fetchall()
        }
        assert owners == {
            k: self.owners[o] for k, (s, o, _) in self.model.items() if s == "sending" and o is not None
        }


def test_claims_machine(state_where: Where) -> None:
    ClaimsMachine.where = state_where
    run_state_machine_as_test(
        ClaimsMachine, settings=settings(max_examples=40, stateful_step_count=25, deadline=None)
    )


def test_two_threads_claiming_the_same_keys_get_disjoint_sets(state_where: Where) -> None:
    clock = Clock()
    keys = [f"k{i:04d}@example.com" for i in range(600)]
    first, second = journal(state_where, clock), journal(state_where, clock)
    first.open_campaign("race", "s", "t", ["outbox"])
    second.open_campaign("race", "s", "t", ["outbox"])
    got: dict[str, set[str]] = {}
    start = threading.Barrier(2)

    def claimer(name: str, j: StateJournal, seed: int) -> None:
        chunks = [keys[i : i + 25] for i in range(0, len(keys), 25)]
        random.Random(seed).shuffle(chunks)
        mine: set[str] = set()
        start.wait()
        for chunk in chunks:
            mine |= j.claim("race", [(k, "s:1") for k in chunk])
        got[name] = mine

    threads = [
        threading.Thread(target=claimer, args=("first", first, 1)),
        threading.Thread(target=claimer, args=("second", second, 2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not got["first"] & got["second"]
    assert got["first"] | got["second"] == set(keys)
    owners = dict(first._db.execute("SELECT email, owner FROM recipients WHERE campaign = 'race'").fetchall())
    assert {k for k, o in owners.items() if o == first.owner} == got["first"]
    first.close()
    second.close()


_CLAIMER = """
import json, sys
from pathlib import Path
from tierii_core.journal import StateJournal
from tierii_core.state import StateURL
where = StateURL(sys.argv[1][4:]) if sys.argv[1].startswith("url:") else Path(sys.argv[1])
keys = json.loads(sys.argv[2])
j = StateJournal(where, heartbeat=None)
j.open_campaign("race", "s", "t", ["outbox"])
print("ready", flush=True)
sys.stdin.readline()
mine = set()
for start in range(0, len(keys), 20):
    mine |= j.claim("race", [(k, "s:1") for k in keys[start:start + 20]])
print(json.dumps(sorted(mine)), flush=True)
"""


def test_two_processes_claiming_the_same_keys_get_disjoint_sets(state_where: Where) -> None:
    keys = [f"k{i:04d}@example.com" for i in range(400)]
    target = f"url:{state_where.url}" if not hasattr(state_where, "mkdir") else str(state_where)  # type: ignore[union-attr]
    journal(state_where, Clock()).close()  # the schema, created once before the race
    procs = []
    for seed in (1, 2):
        order = keys[:]
        random.Random(seed).shuffle(order)
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, target, json.dumps(order)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        procs.append(proc)
    for proc in procs:  # go, both at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        results.append(set(json.loads(out.strip().splitlines()[-1])))
    assert not results[0] & results[1]
    assert results[0] | results[1] == set(keys)


def test_a_dead_owners_keys_become_unknown_and_a_live_owners_are_left_alone(state_where: Where) -> None:
    clock = Clock()
    live, dead = journal(state_where, clock), journal(state_where, clock)
    for j in (live, dead):
        j.open_campaign("c", "s", "t", ["outbox"])
    assert live.claim("c", [("live@example.com", "s:1")]) == {"live@example.com"}
    assert dead.claim("c", [("dead@example.com", "s:2")]) == {"dead@example.com"}
    _kill(dead)
    reader = StateJournal(state_where, read_only=True, clock=clock)
    assert reader.states("c", ["live@example.com", "dead@example.com"]) == {
        "live@example.com": Status.PENDING,  # in flight: both leases still hold
        "dead@example.com": Status.PENDING,
    }
    clock.advance(LEASE - 1)
    assert live.renew()
    clock.advance(2)  # the dead owner's lease has run out; the live one renewed
    assert reader.states("c", ["live@example.com", "dead@example.com"]) == {
        "live@example.com": Status.PENDING,
        "dead@example.com": Status.UNKNOWN,  # tierii status shows it so before anyone reopens
    }
    rerun = journal(state_where, clock)
    assert rerun.open_campaign("c", "s", "t", ["outbox"]) == 1
    # the dead one's key is unknown for good: not claimed again without --retry-unknown
    assert rerun.claim("c", [("dead@example.com", "s:2"), ("live@example.com", "s:1")]) == set()
    retrying = journal(state_where, clock, retry_unknown=True)
    assert retrying.claim("c", [("dead@example.com", "s:2")]) == {"dead@example.com"}
    live.record("c", [("live@example.com", "s:1", Outcome("live@example.com", Status.SENT, "outbox"))])
    assert reader.states("c", ["live@example.com"]) == {"live@example.com": Status.SENT}
    for j in (live, reader, rerun, retrying):
        j.close()


def test_a_run_whose_lease_expired_claims_nothing_more(state_where: Where) -> None:
    clock = Clock()
    j = journal(state_where, clock)
    j.open_campaign("c", "s", "t", ["outbox"])
    assert j.claim("c", [("a@example.com", "s:1")]) == {"a@example.com"}
    clock.advance(LEASE + 1)  # stalled past its lease: another process may call its keys unknown
    with pytest.raises(RunStopped, match="expired"):
        j.claim("c", [("b@example.com", "s:2")])
    assert j.states("c", ["b@example.com"]) == {}
    j.close()


def test_sent_is_final_and_a_line_in_flight_belongs_to_its_owner(state_where: Where) -> None:
    clock = Clock()
    a, b = journal(state_where, clock), journal(state_where, clock, retry_failed=True, retry_unknown=True)
    for j in (a, b):
        j.open_campaign("c", "s", "t", ["outbox"])
    assert a.claim("c", [("x@example.com", "s:1"), ("y@example.com", "s:2")]) == {
        "x@example.com",
        "y@example.com",
    }
    a.record("c", [("x@example.com", "s:1", Outcome("x@example.com", Status.SENT, "outbox"))])
    # b decides otherwise (a suppression arrived meanwhile): neither line changes
    b.record(
        "c",
        [
            ("x@example.com", "s:1", Outcome("x@example.com", Status.EXCLUDED, reason="suppressed")),
            ("y@example.com", "s:2", Outcome("y@example.com", Status.EXCLUDED, reason="suppressed")),
        ],
    )
    assert b.claim("c", [("x@example.com", "s:1"), ("y@example.com", "s:2")]) == set()
    assert a.states("c", ["x@example.com", "y@example.com"]) == {
        "x@example.com": Status.SENT,
        "y@example.com": Status.PENDING,
    }
    a.close()
    b.close()


def test_failures_are_claimed_again_by_kind(state_where: Where) -> None:
    clock = Clock()
    j = journal(state_where, clock)
    j.open_campaign("c", "s", "t", ["outbox"])
    kinds = {
        "t@example.com": ErrorKind.TRANSIENT,
        "m@example.com": ErrorKind.MESSAGE,
        "p@example.com": ErrorKind.PERMANENT,
    }
    j.claim("c", [(k, "s") for k in kinds])
    j.record(
        "c", [(k, "s", Outcome(k, Status.FAILED, "outbox", reason="x", kind=v)) for k, v in kinds.items()]
    )
    assert j.claim("c", [(k, "s") for k in kinds]) == {"t@example.com", "m@example.com"}
    with_flag = journal(state_where, clock, retry_failed=True)
    j.record("c", [("t@example.com", "s", Outcome("t@example.com", Status.SENT, "outbox"))])
    j.record("c", [("m@example.com", "s", Outcome("m@example.com", Status.SENT, "outbox"))])
    assert with_flag.claim("c", [(k, "s") for k in kinds]) == {"p@example.com"}
    j.close()
    with_flag.close()


def test_a_clean_close_hands_leftovers_to_the_next_run_at_once(state_where: Where) -> None:
    clock = Clock()
    j = journal(state_where, clock)
    j.open_campaign("c", "s", "t", ["outbox"])
    j.claim("c", [("a@example.com", "s:1")])
    j.close()  # e.g. a provider bug stopped the run after the claim: no lease left to wait for
    rerun = journal(state_where, clock)
    assert rerun.open_campaign("c", "s", "t", ["outbox"]) == 1
    assert rerun.states("c", ["a@example.com"]) == {"a@example.com": Status.UNKNOWN}
    rerun.close()


def test_delivery_sends_only_what_it_claimed_and_counts_the_rest_as_taken() -> None:
    class Shared:
        def __init__(self, result: set[str] | None) -> None:
            self.result = result

        def claim(self, campaign, items, message_ids=None):  # type: ignore[no-untyped-def]
            return self.result

    def message(email: str) -> SimpleNamespace:
        return SimpleNamespace(contact=SimpleNamespace(email=email, origin="s:1"), message_id=f"<{email}>")

    batch = [message("a@example.com"), message("b@example.com")]
    options = dict(campaign="c", max_attempts=1, retry_delay=0, breaker=None, stop=threading.Event())
    delivery = Delivery([], journal=Shared({"b@example.com"}), **options)  # type: ignore[arg-type]
    assert [m.contact.email for m in delivery._claim(batch)] == ["b@example.com"]  # type: ignore[arg-type]
    assert delivery.taken == 1
    legacy = Delivery([], journal=Shared(None), **options)  # type: ignore[arg-type]
    assert len(legacy._claim(batch)) == 2 and legacy.taken == 0  # type: ignore[arg-type]
