"""Observers with workers: run started/finished fire on the coordinator, batch finished on the
worker that sent the batch (docs/hooks.md). The observer is a real installed plugin: an entry
point in the ``tierii`` group that every process (coordinator and workers) discovers."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from celery_cluster import Cluster, write_contacts

PROBE = """
import json, os, threading

import pluggy

hookimpl = pluggy.HookimplMarker("tierii")
_lock = threading.Lock()


def _record(hook, **fields):
    line = json.dumps({"hook": hook, "pid": os.getpid(), "ppid": os.getppid(), **fields})
    with _lock, open(os.environ["OBSERVER_PROBE_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\\n")


@hookimpl
def tierii_run_started(run):
    _record("run_started")


@hookimpl
def tierii_batch_finished(run, outcomes):
    _record("batch_finished", emails=[o.email for o in outcomes])


@hookimpl
def tierii_run_finished(run, summary):
    _record("run_finished")
"""


def install_probe(where: Path) -> None:
    """An importable module with a dist-info that declares it in the ``tierii`` group."""
    where.mkdir()
    (where / "observer_probe.py").write_text(PROBE, encoding="utf-8")
    info = where / "tierii_observer_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tierii-observer-probe\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text("[tierii]\nobserver-probe = observer_probe\n", encoding="utf-8")


def test_run_hooks_fire_on_the_coordinator_and_batch_hooks_on_the_sending_worker(
    cluster: Cluster, tmp_path: Path
) -> None:
    install_probe(tmp_path / "probe")
    log = tmp_path / "observed.jsonl"
    paths = [str(tmp_path / "probe"), os.environ.get("PYTHONPATH", "")]
    cluster.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    cluster.env["OBSERVER_PROBE_LOG"] = str(log)
    cluster.env["TIERII_NO_ENTRY_POINT_CACHE"] = "1"
    emails = write_contacts(cluster.work / "contacts.csv", 120)
    workers = [cluster.start_worker(concurrency=2) for _ in range(2)]
    coordinator = cluster.send("contacts.csv", "-t", "welcome.mustache")
    assert coordinator.wait(timeout=120) == 0, cluster.log_tail()

    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    by_hook = defaultdict(list)
    for event in events:
        by_hook[event["hook"]].append(event)
    assert [e["pid"] for e in by_hook["run_started"]] == [coordinator.pid]
    assert [e["pid"] for e in by_hook["run_finished"]] == [coordinator.pid]
    worker_pids = {w.pid for w in workers}
    batches = by_hook["batch_finished"]
    assert batches, "no batch_finished fired"
    # on a worker (its process, or a pool child of it), never on the coordinator
    assert all(e["pid"] in worker_pids or e["ppid"] in worker_pids for e in batches), batches[:3]
    reported = [email for e in batches for email in e["emails"]]
    assert sorted(reported) == sorted(emails)  # every batch reported once, by the worker that sent it
    received = cluster.smtp.handler.received
    assert set(received.values()) == {1} and sorted(received) == sorted(emails)
