"""SMTP throughput with each state store: `tierii send` (provider smtp) to Postfix's smtp-sink with
the journal in SQLite, then in PostgreSQL, then two processes sharing one campaign.

The same personalised ~2 KB messages as bench/smtp_throughput.py (its inputs and helpers), at
3,000 and 20,000 recipients: one run of each, wall clock from the command's start to its exit,
the ratios read within the one run (the machine is noisy). "2 processes" starts two `tierii
send` on the same campaign at once: its figure is the campaign's size over the time from the
first start to the last exit (combined msg/s), and each process's share is shown.

Every run starts on an empty store (a fresh state directory; a fresh PostgreSQL schema) and is
checked: exit 0, and smtp-sink received exactly one message per recipient.

PostgreSQL is a private server the script starts on 127.0.0.1 (Debian's initdb and pg_ctl, a
free port, fsync on as in production: SQLite's journal is synchronous=FULL too), or
``--url postgresql://user:password@host:port/database`` (each run makes a schema of its own in
it and drops it).

    apt-get install postfix postgresql       # smtp-sink and the server binaries, never started
    python bench/state_store_smtp.py [-n 3000 -n 20000] [--url postgresql://...] [--json]

A script, not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import machine
from smtp_throughput import SENDER_ADDRESS, UNSUBSCRIBE, _settled_count, write_inputs

from tierii_core.testing.postgres import free_port, fresh_schema, server_binaries
from tierii_smtp.testing import SmtpSinkProcess

CONNECTIONS = 4  # TIERII_SMTP_CONNECTIONS, as in bench/smtp_throughput.py


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    """A PostgreSQL server of the bench's own on 127.0.0.1 (fsync on); its URL."""
    binaries = server_binaries()
    if binaries is None:
        raise SystemExit(
            "no PostgreSQL server binaries under /usr/lib/postgresql: apt-get install postgresql"
        )
    directory = Path(tempfile.mkdtemp(prefix="tierii-bench-pg-"))  # reachable by the postgres user
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(directory, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = directory / "data", free_port()

    def pg(tool: str, *args: str) -> None:
        subprocess.run([*as_postgres, str(binaries / tool), *args], check=True, capture_output=True)

    try:
        pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
        pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def environment(root: Path, sink: SmtpSinkProcess, store: dict[str, str]) -> dict[str, str]:
    """bench/smtp_throughput.py's settings, on the given store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(
        TIERII_SMTP_HOST="127.0.0.1",
        TIERII_SMTP_PORT=str(sink.port),
        TIERII_SMTP_SECURITY="none",
        TIERII_SMTP_CONNECTIONS=str(CONNECTIONS),
        TIERII_SENDER_ADDRESS=SENDER_ADDRESS,
        TIERII_UNSUBSCRIBE_URL=UNSUBSCRIBE,
        TIERII_UNSUBSCRIBE_SECRET="benchmark-secret-0123456789",
        TIERII_SMTP_RELAY_SIGNS="true",  # a relay that DKIM-signs (the authenticated rule)
        **store,
    )
    return env


def send(
    root: Path, sink: SmtpSinkProcess, count: int, store: dict[str, str], name: str, processes: int = 1
) -> dict:
    """``processes`` `tierii send` of the same campaign, started together; wall seconds from the
    first start to the last exit, and what each sent."""
    env = environment(root, sink, store)
    before = sink.count()
    started = time.perf_counter()
    running = []
    for index in range(processes):
        report = root / f"{name}-{index}.json"
        command = [sys.executable, "-m", "tierii_core.cli", "send", "contacts.csv", "-t", "offer.mustache"]
        command += ["--provider", "smtp", "--campaign", name, "--report", str(report)]
        log = (root / f"{name}-{index}.log").open("wb")
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        running.append((process, report, log))
    codes, cpu = [], 0.0
    for process, _, log in running:
        _, status, usage = os.wait4(process.pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
        cpu += usage.ru_utime + usage.ru_stime
        log.close()
    wall = time.perf_counter() - started
    arrived = _settled_count(sink, before + count) - before
    logs = [(root / f"{name}-{i}.log").read_text(errors="replace") for i in range(processes)]
    if codes != [0] * processes or arrived != count:
        tail = "".join(log[-1500:] for log in logs)
        raise SystemExit(f"{name}: exit codes {codes}, {arrived} of {count} messages arrived\n{tail}")
    sent = [json.loads(report.read_text())["sent"] for _, report, _ in running]
    # transactions the store ran again: a deadlock between the two processes, a lost connection
    retried = sum(log.count("state.reconnecting") for log in logs)
    if sum(sent) != count:
        raise SystemExit(f"{name}: the processes' summaries say {sent}, not {count} in all")
    return {
        "seconds": round(wall, 3),
        "msg_per_s": round(count / wall),
        "cpu_us_per_msg": round(cpu / count * 1e6),
        "sent_by_each": sent,
        "retried": retried,
    }


def measure(count: int, server_url: str, sink: SmtpSinkProcess) -> dict:
    with tempfile.TemporaryDirectory(prefix="tierii-bench-store-") as scratch:
        root = Path(scratch)
        write_inputs(root, count)
        figures = {"sqlite": send(root, sink, count, {"TIERII_STATE_DIR": str(root / "state")}, "sqlite")}
        with fresh_schema(server_url) as url:
            figures["postgresql"] = send(root, sink, count, {"TIERII_STATE_URL": url.url}, "postgresql")
        with fresh_schema(server_url) as url:
            shared = {"TIERII_STATE_URL": url.url}
            figures["postgresql_2_processes"] = send(root, sink, count, shared, "postgresql-2", processes=2)
        figures["sqlite_2_processes"] = send(
            root, sink, count, {"TIERII_STATE_DIR": str(root / "state-2")}, "sqlite-2", processes=2
        )
    rate = {name: f["msg_per_s"] for name, f in figures.items()}
    return {
        "recipients": count,
        "stores": figures,
        "postgresql_over_sqlite": round(rate["postgresql"] / rate["sqlite"], 2),
        "postgresql_2_processes_over_1": round(rate["postgresql_2_processes"] / rate["postgresql"], 2),
        "sqlite_2_processes_over_1": round(rate["sqlite_2_processes"] / rate["sqlite"], 2),
    }


def main() -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-n",
        "--recipients",
        type=int,
        action="append",
        help="campaign size (repeatable; default 3000 and 20000)",
    )
    parser.add_argument("--url", help="an existing PostgreSQL database instead of a private server")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = args.recipients or [3000, 20000]
    with contextlib.ExitStack() as stack:
        server_url = args.url or stack.enter_context(private_postgres())
        sink = stack.enter_context(SmtpSinkProcess(dump=False))
        results = [measure(count, server_url, sink) for count in sizes]
    if args.json:
        print(json.dumps(results))
        return results
    print(f"machine: {machine()}")
    where = "an existing server (--url)" if args.url else "a private server on 127.0.0.1, fsync on"
    print(f"tierii send, provider smtp ({CONNECTIONS} connections) to smtp-sink; PostgreSQL: {where}")
    print("one run of each; wall clock from the command's start to its exit")
    labels = {
        "sqlite": "SQLite",
        "postgresql": "PostgreSQL",
        "sqlite_2_processes": "SQLite, 2 processes",
        "postgresql_2_processes": "PostgreSQL, 2 processes",
    }
    for result in results:
        print(f"\n{result['recipients']:,} recipients")
        print(f"  {'store':<24} {'seconds':>8} {'msg/s':>8} {'CPU µs/msg':>11}  sent by each (retries)")
        for name in ("sqlite", "postgresql", "sqlite_2_processes", "postgresql_2_processes"):
            f = result["stores"][name]
            each = " + ".join(f"{n:,}" for n in f["sent_by_each"])
            each += f" ({f['retried']})" if f["retried"] else ""
            figures = f"{f['seconds']:8.2f} {f['msg_per_s']:8,} {f['cpu_us_per_msg']:11,}"
            print(f"  {labels[name]:<24} {figures}  {each}")
        print(f"  PostgreSQL / SQLite: {result['postgresql_over_sqlite']:.2f}x")
        print(f"  2 processes / 1 on PostgreSQL: {result['postgresql_2_processes_over_1']:.2f}x (combined)")
        print(f"  2 processes / 1 on SQLite: {result['sqlite_2_processes_over_1']:.2f}x (combined)")
    return results


if __name__ == "__main__":
    main()
