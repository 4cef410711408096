"""Several processes on one PostgreSQL state store at the same moment.

- Processes that open a new (or older) store together: one of them creates or upgrades the
  schema, the others wait for it and then use it as it is. Two `tierii send` processes started
  together on a new database (two machines starting a campaign, a deployment scaled to two
  workers) must both run: neither may apply a step the other has applied, nor stop with exit 2.
- A transaction the server rolls back because of another process (a deadlock between two
  processes' claims and records, a serialisation failure) is run again, not a traceback.
"""

from __future__ import annotations

import threading
import time

import pytest

from tierii_core.state import StateURL, open_state
from tierii_core.state_postgres import _UPGRADE_LOCK, MIGRATIONS, VERSION
from tierii_core.testing.postgres import plain_url

OPENERS = 3
#: a bound on a hang, never a pause
TIMEOUT = 30.0


def waiting_for_the_upgrade_lock(admin) -> int:
    """Sessions waiting for the advisory lock that upgrades take."""
    return admin.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
        (_UPGRADE_LOCK & 0xFFFFFFFF,),
    ).fetchone()[0]


def test_processes_opening_a_new_store_together_apply_each_step_once(postgres_state: StateURL) -> None:
    psycopg = pytest.importorskip("psycopg")
    errors: list[BaseException] = []
    applied: list[int] = []

    def open_and_close() -> None:
        try:
            state = open_state(postgres_state)
            applied.extend(step.version for step in state.applied)
            state.close()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    with psycopg.connect(plain_url(postgres_state.url), autocommit=True) as admin:
        # every opener sees an empty database, then queues for the upgrade while this holds it
        admin.execute("SELECT pg_advisory_lock(%s)", (_UPGRADE_LOCK,))
        openers = [threading.Thread(target=open_and_close) for _ in range(OPENERS)]
        for opener in openers:
            opener.start()
        deadline = time.monotonic() + TIMEOUT
        while waiting_for_the_upgrade_lock(admin) < OPENERS:  # pg_locks: nothing to wait on but it
            assert time.monotonic() < deadline, "the openers never queued for the upgrade lock"
            assert not errors, errors
            time.sleep(0.01)
        admin.execute("SELECT pg_advisory_unlock(%s)", (_UPGRADE_LOCK,))
        for opener in openers:
            opener.join(TIMEOUT)

    assert errors == []
    assert sorted(applied) == [step.version for step in MIGRATIONS]  # each step once, by one opener
    state = open_state(postgres_state, read_only=True)
    try:
        assert state.version == VERSION
        rows = state.connection.execute("SELECT version FROM state_version ORDER BY version").fetchall()
        assert [row[0] for row in rows] == [step.version for step in MIGRATIONS]
    finally:
        state.close()


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock_detected, serialization_failure
def test_a_transaction_the_server_rolls_back_is_run_again(postgres_state: StateURL, sqlstate: str) -> None:
    state = open_state(postgres_state)
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        with state.transaction() as db:
            db.execute("INSERT INTO owners VALUES (?, ?, ?)", (f"host:1:{len(calls)}", 1.0, 1.0))
            if len(calls) == 1:  # the server aborts the first attempt, as it does a deadlock's victim
                db.execute(f"DO $$ BEGIN RAISE EXCEPTION 'rolled back' USING ERRCODE = '{sqlstate}'; END $$")
        return "done"

    try:
        assert state.attempt(work) == "done"
        assert len(calls) == 2
        owners = state.connection.execute("SELECT owner FROM owners").fetchall()
        assert [row[0] for row in owners] == ["host:1:2"]  # the aborted attempt left nothing
    finally:
        state.close()
