"""Two `tierii send` processes on ONE campaign, sharing one state store: the claim keeps them
apart. 3,000 recipients over SMTP (tierii-smtp) to aiosmtpd on 127.0.0.1, which counts what
each recipient received.

- Both run to the end: each sends some, nobody gets two messages, nobody is lost, and the two
  summaries add up to the campaign (on PostgreSQL, and on SQLite: two processes of one machine
  share a state directory the same way).
- One of them is SIGKILLed at a random moment (seeded; the seed, the victim and the moment are
  printed), the other runs on, and a re-run after the dead one's lease ran out finishes the
  campaign: every recipient delivered once, except those the journal reports unknown (the
  provider may have accepted them as the process died), which are delivered at most once; 0
  lost; the summaries of the survivor and the re-run, with what the dead one recorded as sent
  under its name, add up to the journal's count. On both stores.

The moments are events, never pauses: the SMTP server holds every message until both processes
have started (:meth:`SmtpSink.hold`), the kill comes when the server has accepted a number of
messages (:meth:`SmtpSink.wait_for`), and the re-run starts when the dead owner's lease, as the
store records it, has expired (TIERII_STATE_LEASE is short here for that reason).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierii_core.state import StateURL, Where, open_state
from tierii_core.testing.smtp_sink import SmtpSink

RECIPIENTS = 3000
#: the dead process's claims are its own this long; short, so the re-run need not wait long,
#: and long enough that a busy machine still renews the live ones' (every LEASE / 6 seconds)
LEASE = 8.0
#: a bound on a hang (a process that never starts or never ends), never a pause
TIMEOUT = 600.0
CAMPAIGN = "shared-store"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """The shared state: a PostgreSQL schema of the test server, or one state directory."""
    if request.param == "sqlite":
        return tmp_path / "state"
    return request.getfixturevalue("postgres_state")


def kind(store: Where) -> str:
    return "PostgreSQL" if isinstance(store, StateURL) else "SQLite"


def addresses() -> list[str]:
    return [f"u{i}@example.com" for i in range(RECIPIENTS)]


def write_campaign(root: Path) -> tuple[str, ...]:
    """3,000 recipients and one row that repeats the first address (excluded); the send args."""
    contacts = root / "contacts.csv"
    rows = [f"{email},U{i}" for i, email in enumerate(addresses())]
    rows.append("U0@Example.com,Again")  # a repeated address: excluded, with its reason
    contacts.write_text("email,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    template = root / "t.mustache"
    template.write_text("Subject: Hello {{name}}\nFrom: shop@example.com\n\nHi {{name}}\n", encoding="utf-8")
    return (
        "send",
        str(contacts),
        "-t",
        str(template),
        "--campaign",
        CAMPAIGN,
        "--transactional",
        "--batch-size",
        "20",
        "--log-json",
    )


def environment(store: Where, sink: SmtpSink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(
        TIERII_LOAD_PLUGINS="tierii-csv,tierii-smtp",
        TIERII_PROVIDER="smtp",
        TIERII_SMTP_HOST=sink.host,
        TIERII_SMTP_PORT=str(sink.port),
        TIERII_SMTP_SECURITY="none",
        TIERII_SMTP_RELAY_SIGNS="true",
        # a message held by the sink until the other process starts is not a timeout
        TIERII_SMTP_TIMEOUT=str(TIMEOUT),
        TIERII_STATE_LEASE=str(LEASE),
    )
    if isinstance(store, StateURL):
        env["TIERII_STATE_URL"] = store.url
    else:
        env["TIERII_STATE_DIR"] = str(store)
    return env


class Sender:
    """One `tierii send` process: its JSON log read in a thread (``started`` is set at its
    run.started event), its summary from --report once it has exited."""

    def __init__(self, name: str, args: tuple[str, ...], root: Path, env: dict[str, str]) -> None:
        self.name = name
        self.report = root / f"summary-{name}.json"
        self.started = threading.Event()
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tierii_core.cli", *args, "--report", str(self.report)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if '"event": "run.started"' in line:
                self.started.set()
        self.started.set()  # ended (perhaps before it started): whoever waits looks at the exit

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(TIMEOUT)
        return code

    def kill(self) -> None:
        assert self.process.poll() is None, f"{self.name} ended before the kill: {self.tail()}"
        self.process.send_signal(signal.SIGKILL)
        self.wait()

    def summary(self) -> dict:
        return json.loads(self.report.read_text(encoding="utf-8"))

    def tail(self) -> str:
        return "".join(self.log[-20:])


def start_both(args: tuple[str, ...], root: Path, env: dict[str, str], sink: SmtpSink) -> list[Sender]:
    """Both processes running before the server accepts a message: neither can finish the
    campaign before the other has started."""
    sink.hold()
    senders = [Sender(name, args, root, env) for name in ("a", "b")]
    for sender in senders:
        assert sender.started.wait(TIMEOUT), f"{sender.name} never started"
        assert sender.process.poll() is None, f"{sender.name} ended at its start: {sender.tail()}"
    sink.release()
    return senders


def status(root: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tierii_core.cli", "status", CAMPAIGN, "--json", "--list", "all"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sent_by_owner(store: Where) -> collections.Counter:
    """The journal's sent recipients per claiming process id (an owner is host:pid:random)."""
    state = open_state(store, read_only=True)
    try:
        rows = state.connection.execute(
            "SELECT owner, count(*) FROM recipients WHERE campaign = ? AND state = 'sent' GROUP BY owner",
            (CAMPAIGN,),
        ).fetchall()
    finally:
        state.close()
    return collections.Counter({int(owner.rsplit(":", 2)[1]): int(count) for owner, count in rows})


def lease_expiry(store: Where, pid: int) -> float | None:
    """When the owner row of process ``pid`` expires, as the store records it (None: no row)."""
    state = open_state(store, read_only=True)
    try:
        rows = state.connection.execute("SELECT owner, expires_at FROM owners").fetchall()
    finally:
        state.close()
    found = [float(expires) for owner, expires in rows if owner.rsplit(":", 2)[1] == str(pid)]
    return max(found, default=None)


def accounted(summary: dict) -> int:
    """Every record a run read ends in exactly one of its counts."""
    keys = ("sent", "failed", "excluded", "unknown", "skipped", "pending", "taken")
    return sum(summary[key] for key in keys)


def states_of(report: dict) -> dict[str, str]:
    return {row["email"]: state for state, rows in report["recipients"].items() for row in rows}


@pytest.mark.slow
def test_two_processes_share_a_campaign(tmp_path: Path, sink: SmtpSink, store: Where) -> None:
    args = write_campaign(tmp_path)
    env = environment(store, sink)
    a, b = start_both(args, tmp_path, env, sink)
    assert (a.wait(), b.wait()) == (0, 0), a.tail() + b.tail()

    received = collections.Counter(address.lower() for address in sink.recipients)
    first, second = a.summary(), b.summary()
    print(
        f"{kind(store)}: a sent {first['sent']} (taken by b first: {first['taken']}), "
        f"b sent {second['sent']} (taken by a first: {second['taken']})"
    )
    assert first["sent"] > 0 and second["sent"] > 0  # the work was shared
    assert {email for email, count in received.items() if count > 1} == set()  # no duplicate
    assert set(addresses()) - set(received) == set()  # no loss
    assert sum(received.values()) == RECIPIENTS
    assert first["sent"] + second["sent"] == RECIPIENTS
    assert accounted(first) == accounted(second) == RECIPIENTS + 1
    assert sent_by_owner(store) == {a.pid: first["sent"], b.pid: second["sent"]}

    report = status(tmp_path, env)
    assert report["counts"]["sent"] == RECIPIENTS
    assert report["counts"]["excluded"] == 1
    assert report["counts"]["unknown"] == report["counts"]["pending"] == report["counts"]["failed"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 5, 9])  # a killed early; b in the middle; b near the end
def test_one_of_two_processes_killed_then_a_rerun_finishes(
    tmp_path: Path, sink: SmtpSink, store: Where, seed: int
) -> None:
    rng = random.Random(seed)
    victim_index = rng.randrange(2)
    kill_at = rng.randint(100, RECIPIENTS - 300)  # deliveries at the server, both processes together
    print(
        f"{kind(store)}, seed {seed}: SIGKILL process {'ab'[victim_index]} once the server has accepted "
        f"{kill_at} messages"
    )
    args = write_campaign(tmp_path)
    env = environment(store, sink)

    senders = start_both(args, tmp_path, env, sink)
    victim, survivor = senders[victim_index], senders[1 - victim_index]
    assert sink.wait_for(kill_at, TIMEOUT), f"the server never reached {kill_at} messages"
    victim.kill()
    assert survivor.wait() == 0, survivor.tail()

    # the re-run treats the dead one's claims as its own until its lease runs out, as recorded
    expires = lease_expiry(store, victim.pid)
    if expires is not None:
        time.sleep(max(0.0, expires - time.time()) + 0.05)  # the lease itself is the event
    rerun = Sender("rerun", args, tmp_path, env)
    assert rerun.wait() in (0, 1), rerun.tail()  # 1: some recipients are unknown

    report = status(tmp_path, env)
    states = states_of(report)
    received = collections.Counter(address.lower() for address in sink.recipients)
    unknown = {email for email, state in states.items() if state == "unknown"}
    twice = {email for email, count in received.items() if count > 1}
    arrived = sum(1 for email in unknown if received[email])
    print(
        f"{kind(store)}, seed {seed}: {len(unknown)} unknown ({arrived} of them received), "
        f"{len(twice)} received twice, {sum(received.values())} messages in all"
    )
    assert twice - unknown == set()  # nobody outside unknown got two messages
    assert twice == set()  # and nobody at all: an unknown recipient is not resent without --retry-unknown
    lost = {email for email in addresses() if states.get(email) not in ("sent", "excluded", "unknown")}
    assert lost == set()
    assert report["counts"]["pending"] == report["counts"]["failed"] == 0
    assert report["counts"]["excluded"] == 1
    # delivered at least once: everyone the journal does not report unknown
    assert {email for email in addresses() if not received[email]} <= unknown
    assert {email for email, state in states.items() if state == "sent"} == set(received) - unknown

    # the summaries add up: the survivor's and the re-run's, with the dead one's journal lines
    last, during = rerun.summary(), survivor.summary()
    by_owner = sent_by_owner(store)
    assert by_owner[survivor.pid] == during["sent"] and by_owner[rerun.pid] == last["sent"]
    assert during["sent"] + last["sent"] + by_owner[victim.pid] == report["counts"]["sent"]
    assert set(by_owner) <= {victim.pid, survivor.pid, rerun.pid}
    assert accounted(during) == accounted(last) == RECIPIENTS + 1
    assert last["unknown"] == len(unknown)  # the re-run reports each unknown recipient
