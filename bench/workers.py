"""Benchmark: one campaign sent by 1, 2 and 4 `tierii worker` processes (tierii-celery).

Each run starts its own redis-server (127.0.0.1, a password), a state directory, the workers and
the coordinator (`tierii send --executor celery`) as separate processes, and one of:
- the local MailerSend (tierii_mailersend.testing) answering every bulk request LATENCY seconds
  late and enforcing a limit on them in fixed windows: the latency-bound case that more workers help,
  up to the global limit (TierII is told the limit; one token bucket in Redis paces every worker);
- Postfix's smtp-sink: CPU-bound on this machine, where more workers cannot add cores.

It prints, per run: recipients per second (first to last accepted request), bulk requests refused
with 429 (must be 0), duplicates and lost recipients (both 0; MailerSend only: smtp-sink does
not say who got what).

    python bench/workers.py                        # 100,000 recipients, 1/2/4 workers, MailerSend
    python bench/workers.py -n 5000 --smtp-sink    # smaller, and the smtp-sink runs too
    python bench/workers.py --limit 20             # a limit low enough that it is what binds
    python bench/workers.py --window 60            # the API's windows as long as MailerSend's

Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tierii_celery.testing import RedisServer, redis_binary

TEMPLATE = (
    "Subject: Hello {{first_name}}\nFrom: Shop <shop@example.com>\n\nHi {{first_name}}, number {{n}}.\n"
)


def tierii(*args: str) -> list[str]:
    return [sys.executable, "-c", "from tierii_core.cli import main; main()", *args]


def write_inputs(root: Path, count: int) -> list[str]:
    emails = [f"user{n:07d}@example.com" for n in range(count)]
    with (root / "contacts.csv").open("w", encoding="utf-8") as out:
        out.write("email,first_name,n\n")
        for n, email in enumerate(emails):
            out.write(f"{email},Name{n},{n}\n")
    (root / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    return emails


def run_campaign(root: Path, env: dict[str, str], workers: int, concurrency: int) -> tuple[int, float]:
    """Start the workers, send, wait; (the coordinator's exit code, its wall time)."""
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    processes = []
    for number in range(workers):
        with (logs / f"worker-{number}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    tierii("worker", f"--concurrency={concurrency}", "--loglevel=INFO"),
                    cwd=root,
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            )
    try:
        wait_until_ready(logs, workers)  # their start-up (imports) is not what is measured
        started = time.monotonic()
        with (logs / "coordinator.log").open("wb") as log:
            code = subprocess.call(
                tierii(
                    "send", "contacts.csv", "-t", "welcome.mustache", "--executor", "celery", "--log-json"
                ),
                cwd=root,
                env=env,
                stdout=log,
                stderr=log,
            )
        return code, time.monotonic() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def wait_until_ready(logs: Path, workers: int, timeout: float = 120) -> None:
    """Until every worker's log says Celery is ready (a benchmark may poll; tests never do)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [(logs / f"worker-{n}.log").read_text(errors="replace") for n in range(workers)]
        if all(" ready." in text for text in texts):
            return
        time.sleep(0.1)
    raise SystemExit(f"workers not ready after {timeout:.0f} s; see {logs}")


def base_env(root: Path, redis: RedisServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    env.update(
        TIERII_CELERY_BROKER_URL=redis.url,
        TIERII_STATE_DIR=str(root / "state"),
        TIERII_TRANSACTIONAL="true",
        TIERII_DISABLE_PLUGINS="tierii-keyring",
        TIERII_CELERY_REQUEUE_AFTER="30",
    )
    return env


def journal_counts(root: Path, env: dict[str, str]) -> dict[str, int]:
    result = subprocess.run(tierii("status", "--json"), cwd=root, env=env, capture_output=True, text=True)
    return json.loads(result.stdout)["counts"] if result.returncode == 0 else {}


def mailersend_run(args: argparse.Namespace, workers: int) -> dict:
    from tierii_mailersend.testing import LocalMailerSend, RateLimit

    with tempfile.TemporaryDirectory(prefix="tierii-bench-workers-") as tmp:
        root = Path(tmp)
        emails = write_inputs(root, args.n)
        redis = RedisServer(root / "redis", redis_binary() or "redis-server")
        redis.start()
        # MailerSend counts in windows of a minute; a window of a few seconds keeps runs short but
        # still gives the jitter between a worker's token and its request's arrival (a claim in
        # the journal, a thread scheduled late) the room a minute gives: in one-second windows,
        # 2% under the limit is 20 ms, less than this shared machine's scheduling jitter
        limits = {"bulk-email": RateLimit(round(args.limit * args.window), window=args.window), "other": None}
        try:
            with LocalMailerSend(limits=limits, bulk_delay=0.0, max_bulk=args.bulk_size) as api:
                api.faults.slow(args.latency, times=10**9, endpoint="bulk-email")
                env = base_env(root, redis)
                env.update(api.environment())
                env.update(
                    TIERII_PROVIDER="mailersend",
                    TIERII_MAILERSEND_BULK_SIZE=str(args.bulk_size),
                    TIERII_MAILERSEND_BULK_PER_MINUTE=str(args.limit * 60),
                    TIERII_MAILERSEND_POLL_INTERVAL="0.05",
                    TIERII_BATCH_SIZE=str(args.bulk_size),
                )
                code, wall = run_campaign(root, env, workers, args.concurrency)
                accepted = [r.at for r in api.requests if r.endpoint == "bulk-email" and r.status == 202]
                got = Counter(m.recipient for m in api.messages)
                refused = api.count("bulk-email", 429)
                counts = journal_counts(root, env)
        finally:
            redis.stop()
        span = (max(accepted) - min(accepted)) if len(accepted) > 1 else wall
        unknown = counts.get("unknown", 0)
        return {
            "workers": workers,
            "exit": code,
            "per_second": len(got) / span if span else 0.0,
            "wall": wall,
            "refused_429": refused,
            "duplicates": sum(1 for n in got.values() if n > 1),
            "lost": sum(1 for e in emails if e not in got) - unknown,
            "unknown": unknown,
        }


def smtp_sink_run(args: argparse.Namespace, workers: int) -> dict:
    from tierii_smtp.testing import SmtpSinkProcess

    with tempfile.TemporaryDirectory(prefix="tierii-bench-workers-") as tmp:
        root = Path(tmp)
        write_inputs(root, args.n)
        redis = RedisServer(root / "redis", redis_binary() or "redis-server")
        redis.start()
        try:
            with SmtpSinkProcess(dump=False) as sink:
                env = base_env(root, redis)
                env.update(
                    TIERII_PROVIDER="smtp",
                    TIERII_SMTP_HOST="127.0.0.1",
                    TIERII_SMTP_PORT=str(sink.port),
                    TIERII_SMTP_SECURITY="none",
                    TIERII_BATCH_SIZE="100",
                )
                code, wall = run_campaign(root, env, workers, args.concurrency)
                arrived = sink.count()
        finally:
            redis.stop()
        return {
            "workers": workers,
            "exit": code,
            "per_second": arrived / wall,
            "wall": wall,
            "arrived": arrived,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="recipients (default 100,000)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to compare")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds each bulk request waits")
    parser.add_argument("--limit", type=int, default=100, help="bulk requests per second the API allows")
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds of the API's fixed windows (MailerSend's: 60)"
    )
    parser.add_argument("--bulk-size", type=int, default=10, help="emails per bulk request")
    parser.add_argument("--smtp-sink", action="store_true", help="also the smtp-sink runs")
    parser.add_argument("--only-smtp-sink", action="store_true", help="the smtp-sink runs alone")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    cap = args.limit * args.bulk_size
    print(
        f"{args.n} recipients; MailerSend: {args.latency * 1000:.0f} ms per bulk request "
        f"of {args.bulk_size}, "
        f"limit {args.limit} requests/s in windows of {args.window:g} s (= {cap} recipients/s); "
        f"{args.concurrency} threads per worker"
    )
    print("workers  recipients/s  vs 1 worker  of limit  429s  duplicates  lost  unknown  exit  wall")
    first = None
    for workers in [] if args.only_smtp_sink else counts:
        r = mailersend_run(args, workers)
        first = first or r["per_second"]
        print(
            f"{workers:>7}  {r['per_second']:>12.0f}  {r['per_second'] / first:>10.2f}x  "
            f"{r['per_second'] / cap:>7.0%}  {r['refused_429']:>4}  {r['duplicates']:>10}  {r['lost']:>4}  "
            f"{r['unknown']:>7}  {r['exit']:>4}  {r['wall']:.1f}s",
            flush=True,
        )
    if args.smtp_sink or args.only_smtp_sink:
        print(f"\n{args.n} recipients to smtp-sink (CPU-bound: {os.cpu_count()} cores on this machine)")
        print("workers  recipients/s  vs 1 worker  arrived  exit  wall")
        first = None
        for workers in counts:
            r = smtp_sink_run(args, workers)
            first = first or r["per_second"]
            print(
                f"{workers:>7}  {r['per_second']:>12.0f}  {r['per_second'] / first:>10.2f}x  "
                f"{r['arrived']:>7}  {r['exit']:>4}  {r['wall']:.1f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
