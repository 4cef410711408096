"""Benchmark: N recipients through `tierii send` to the local ACS (Azure Communication Services).

The run goes through the real command: CSV source, strict templates, journal, the core's
retries, the official SDK (`begin_send` and its poller) over HTTP to `tierii_azure.testing` on
127.0.0.1, HMAC-signed. The local ACS limits sends to LIMIT a second (a raised quota: the
documented initial 30 a minute would make this a 5-hour run) and opens with a burst of 429s.
TierII is not told that limit (its settings count per minute and per hour, ACS's units), so
the 429s (Retry-After in whole seconds, as ACS sends) pace it.

Printed: messages a second, 429s absorbed, requests made, duplicates and lost (both must be 0).

    python bench/azure.py                     # 10,000 recipients, 400 sends/s allowed
    python bench/azure.py -n 2000 --limit 100

Nothing here talks to Azure: the server is tierii_azure.testing on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tierii_azure.testing import LocalAcs, RateLimit

TEMPLATE = """\
Subject: Your code, {{first_name}}
From: Bench Shop <shop@example.com>

Hello {{first_name}}, your code is {{code}}.

--
Advertisement.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""


def write_contacts(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "code"])
        for i in range(count):
            writer.writerow([f"r{i}@example.com", f"Name{i}", f"K{i:07d}"])


def run(args: argparse.Namespace) -> dict:
    limits = {"send": RateLimit(args.limit, 1.0), "status": RateLimit(args.limit * 4, 1.0)}
    with (
        tempfile.TemporaryDirectory(prefix="tierii-bench-") as tmp,
        LocalAcs(limits=limits, processing_time=args.processing_time) as acs,
    ):
        acs.faults.throttle(args.burst, retry_after=1)
        work = Path(tmp)
        write_contacts(work / "contacts.csv", args.recipients)
        (work / "bench.mustache").write_text(TEMPLATE, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
        env.update(acs.environment())
        env.update(
            TIERII_PROVIDER="azure",
            TIERII_STATE_DIR=str(work / "state"),
            TIERII_CONCURRENCY=str(args.concurrency),
            TIERII_AZURE_CONCURRENCY=str(args.sends_in_flight),
            TIERII_AZURE_BATCH_SIZE=str(args.batch_size),
            TIERII_AZURE_POLL_INTERVAL=str(args.poll_interval),
            TIERII_AZURE_PER_MINUTE=str(10**8),
            TIERII_AZURE_PER_HOUR=str(10**9),
            TIERII_AZURE_STATUS_PER_MINUTE=str(10**8),
            TIERII_AZURE_STATUS_PER_HOUR=str(10**9),
            TIERII_SENDER_ADDRESS="Bench Shop, 1 Main Street, Springfield",
            TIERII_UNSUBSCRIBE_URL="https://shop.example/unsubscribe",
            TIERII_UNSUBSCRIBE_SECRET="bench-secret-for-signing-unsubscribe-links",
        )
        command = [sys.executable, "-c", "from tierii_core.cli import main; main()", "send", "contacts.csv"]
        command += ["-t", "bench.mustache", "--report", "report.json", "--log-json"]
        started = time.monotonic()
        process = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        report = json.loads((work / "report.json").read_text()) if (work / "report.json").exists() else {}
        accepted = Counter(m.recipient for m in acs.accepted)
        delivered = {m.recipient for m in acs.delivered}
        requests = Counter((r.operation, r.status) for r in acs.requests)
    expected = {f"r{i}@example.com" for i in range(args.recipients)}
    return {
        "recipients": args.recipients,
        "limit": f"{args.limit} sends/s at the local ACS, plus a burst of {args.burst} 429s at the start",
        "core_concurrency": args.concurrency,
        "sends_in_flight_per_call": args.sends_in_flight,
        "batch_size": args.batch_size,
        "exit_code": process.returncode,
        "elapsed_s": round(elapsed, 2),
        "messages_per_s": round(len(delivered) / elapsed, 1) if elapsed else None,
        "minimum_s_the_limit_allows": round(args.recipients / args.limit, 2),
        "sends_accepted_202": requests[("send", 202)],
        "sends_throttled_429_absorbed": requests[("send", 429)],
        "status_polls": sum(n for (op, _), n in requests.items() if op == "status"),
        "status_polls_429": requests[("status", 429)],
        "sent_per_report": report.get("sent"),
        "failed_per_report": report.get("failed"),
        "unknown_per_report": report.get("unknown"),
        "duplicates": sum(n - 1 for n in accepted.values() if n > 1),
        "lost": len(expected - delivered),
        "stderr_tail": process.stderr.strip().splitlines()[-3:] if process.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--recipients", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=400, help="sends a second the local ACS allows")
    parser.add_argument("--burst", type=int, default=50, help="429s the local ACS answers first")
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in flight (core)")
    parser.add_argument("--sends-in-flight", type=int, default=16, help="TIERII_AZURE_CONCURRENCY")
    parser.add_argument("--batch-size", type=int, default=50, help="TIERII_AZURE_BATCH_SIZE")
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--processing-time", type=float, default=0.05, help="seconds an operation runs")
    results = run(parser.parse_args())
    print(json.dumps(results, indent=2))
    sys.exit(0 if results["duplicates"] == 0 and results["lost"] == 0 and results["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
