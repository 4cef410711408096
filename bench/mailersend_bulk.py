"""Benchmark: N recipients through `tierii send` to the local MailerSend, under scaled-down limits.

MailerSend's real per-minute limits (healthy reputation: /v1/bulk-email 10, /v1/email 120, other
endpoints 60) are kept, but a "minute" lasts 60/SPEEDUP seconds: with the default SPEEDUP of 60,
bulk requests are limited to 10 per second (600/min). The run goes through the real command (CSV
source, strict templates, journal, the core's rate limiter and retries, the SDK over HTTP), and the
script prints the requests made, the elapsed time against the minimum the limit allows, and the
duplicates and lost recipients (both must be 0).

    python bench/mailersend_bulk.py                      # 100,000 recipients, bulk size 500
    python bench/mailersend_bulk.py --undeclared         # TierII not told the limit: 429s pace it
    python bench/mailersend_bulk.py -n 20000 --concurrency 1

Nothing here talks to api.mailersend.com: the server is tierii_mailersend.testing on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tierii_mailersend.provider import PACING_MARGIN
from tierii_mailersend.testing import LocalMailerSend, RateLimit, per_recipient

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
    window = 60.0 / args.speedup
    bulk_per_minute = round(args.bulk_limit * args.speedup)  # the scaled limit in requests/min
    limits = {
        "bulk-email": RateLimit(args.bulk_limit, window),
        "email": RateLimit(120, window),
        "other": RateLimit(60, window),
    }
    with (
        tempfile.TemporaryDirectory(prefix="tierii-bench-") as tmp,
        LocalMailerSend(limits=limits, bulk_delay=args.bulk_delay, daily_quota=10_000_000) as api,
    ):
        work = Path(tmp)
        write_contacts(work / "contacts.csv", args.recipients)
        (work / "bench.mustache").write_text(TEMPLATE, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
        env.update(api.environment())
        env.update(
            TIERII_PROVIDER="mailersend",
            TIERII_STATE_DIR=str(work / "state"),
            TIERII_MAILERSEND_BULK_SIZE=str(args.bulk_size),
            TIERII_MAILERSEND_BULK_PER_MINUTE=str(10**7 if args.undeclared else bulk_per_minute),
            TIERII_MAILERSEND_POLL_INTERVAL=str(args.poll_interval),
            TIERII_CONCURRENCY=str(args.concurrency),
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
        counts = per_recipient(api.messages)
        requests = Counter((r.endpoint, r.status) for r in api.requests)
        posts = sorted(r.at for r in api.requests if r.endpoint == "bulk-email" and r.status == 202)
    expected = {f"r{i}@example.com" for i in range(args.recipients)}
    needed = math.ceil(args.recipients / args.bulk_size)
    return {
        "recipients": args.recipients,
        "bulk_size": args.bulk_size,
        "limit": f"{args.bulk_limit} bulk requests per {window:g} s ({bulk_per_minute}/min)",
        "tierii_told_the_limit": not args.undeclared,
        "concurrency": args.concurrency,
        "exit_code": process.returncode,
        "elapsed_s": round(elapsed, 2),
        "bulk_requests_accepted": requests[("bulk-email", 202)],
        "bulk_requests_needed": needed,
        "bulk_requests_refused_429": requests[("bulk-email", 429)],
        "status_polls": sum(n for (endpoint, _), n in requests.items() if endpoint == "bulk-status"),
        "status_polls_429": requests[("bulk-status", 429)],
        "other_requests": {
            f"{e} {s}": n for (e, s), n in requests.items() if e not in {"bulk-email", "bulk-status"}
        },
        # the limit lets request k (0-based) start no earlier than k / rate after the first
        "minimum_s_the_limit_allows": round((needed - 1) * 60.0 / bulk_per_minute, 2),
        # TierII paces PACING_MARGIN under the declared limit
        "minimum_s_at_tierii_pace": None
        if args.undeclared
        else round((needed - 1) * 60.0 / (bulk_per_minute * PACING_MARGIN), 2),
        "first_to_last_accepted_bulk_s": round(posts[-1] - posts[0], 2) if posts else None,
        "sent_per_report": report.get("sent"),
        "failed_per_report": report.get("failed"),
        "unknown_per_report": report.get("unknown"),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "lost": len(expected - set(counts)),
        "stderr_tail": process.stderr.strip().splitlines()[-3:] if process.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--recipients", type=int, default=100_000)
    parser.add_argument("--bulk-size", type=int, default=500)
    parser.add_argument("--bulk-limit", type=int, default=10, help="bulk requests per (scaled) minute")
    parser.add_argument("--speedup", type=int, default=60, help="how many times shorter a minute is")
    parser.add_argument("--bulk-delay", type=float, default=0.2, help="seconds a bulk job stays queued")
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in flight at once")
    parser.add_argument("--undeclared", action="store_true", help="do not tell TierII the limit")
    parser.add_argument("--json", action="store_true", help="(the figures are always printed as JSON)")
    results = run(parser.parse_args())
    print(json.dumps(results, indent=2))
    sys.exit(0 if results["duplicates"] == 0 and results["lost"] == 0 and results["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
