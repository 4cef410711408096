"""Benchmark: N recipients through `tierii send` to Amazon SES as moto's server emulates it.

The run goes through the real command (CSV source, strict templates, journal, the core's
retries, boto3's SESv2 client over HTTP to moto's server on 127.0.0.1) and the script counts,
in moto's record of sent messages, the duplicates and lost recipients (both must be 0).
Then it measures the choice of content: the same messages sent straight through boto3 as raw
MIME (what the provider sends) and as SES's "simple" content, side by side.

    python bench/ses.py                    # 10,000 recipients, 4 calls in flight
    python bench/ses.py -n 2000 --concurrency 8 --compare 500

moto answers one request at a time per thread in the benchmark's own process: the figures
measure TierII and boto3 against an emulator, not Amazon's service (whose limit is the
account's maximum send rate, which the provider keeps).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tierii_core.testing.messages import make_message
from tierii_ses.testing import LocalSes

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
            writer.writerow([f"r{i}@example.org", f"Name{i}", f"K{i:07d}"])


def campaign(ses: LocalSes, recipients: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tierii-bench-ses-") as tmp:
        work = Path(tmp)
        write_contacts(work / "contacts.csv", recipients)
        (work / "bench.mustache").write_text(TEMPLATE, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERII_", "AWS_"))}
        env.update(ses.environment())
        env.update(
            TIERII_PROVIDER="ses",
            TIERII_SES_REGION=ses.region,
            TIERII_SES_MAX_SEND_RATE="100000",  # moto reports 1/s and 200 a day: lifted, as a user would
            TIERII_SES_DAILY_QUOTA=str(recipients * 2),
            TIERII_SES_CONNECTIONS=str(concurrency),
            TIERII_STATE_DIR=str(work / "state"),
            TIERII_CONCURRENCY=str(concurrency),
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
    sent = ses.sent()
    counts = Counter(r for m in sent for r in m.destinations)
    expected = {f"r{i}@example.org" for i in range(recipients)}
    return {
        "recipients": recipients,
        "concurrency": concurrency,
        "exit_code": process.returncode,
        "elapsed_s": round(elapsed, 2),
        "msg_per_s": round(recipients / elapsed, 1),
        "sent_per_report": report.get("sent"),
        "failed_per_report": report.get("failed"),
        "unknown_per_report": report.get("unknown"),
        "messages_in_moto": len(sent),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "lost": len(expected - set(counts)),
        "stderr_tail": process.stderr.strip().splitlines()[-3:] if process.returncode else [],
    }


def content_choice(ses: LocalSes, count: int, concurrency: int) -> dict:
    """Raw MIME vs simple content for the same messages: msg/s through boto3 and request bytes."""
    from botocore.config import Config

    from tierii_ses.testing.moto import ACCESS_KEY, SECRET_KEY

    messages = [
        make_message(
            f"c{i}@example.org",
            name=f"Name {i}",
            subject=f"Your code, Name{i}",
            text=f"Hello Name{i}, your code is K{i:07d}.\n\n--\nBench Shop, 1 Main Street\n",
            html=f"<p>Hello Name{i}, your code is <b>K{i:07d}</b>.</p>",
            headers=(
                ("List-Unsubscribe", f"<https://shop.example/unsubscribe?t={i:032d}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )
        for i in range(count)
    ]
    import boto3

    client = boto3.client(
        "sesv2",
        region_name=ses.region,
        endpoint_url=ses.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(max_pool_connections=concurrency, retries={"total_max_attempts": 1}),
    )

    def raw(message) -> dict:
        return {
            "FromEmailAddress": message.sender.email,
            "Destination": {"ToAddresses": [message.to.email]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
        }

    def simple(message) -> dict:
        return {
            "FromEmailAddress": f"{message.sender.name} <{message.sender.email}>",
            "Destination": {"ToAddresses": [message.to.email]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
                        "Html": {"Data": message.html or "", "Charset": "UTF-8"},
                    },
                    "Headers": [{"Name": n, "Value": v} for n, v in message.headers],
                }
            },
        }

    def request_bytes(build, message) -> int:
        body = build(message)
        if "Raw" in body["Content"]:
            body["Content"]["Raw"]["Data"] = base64.b64encode(body["Content"]["Raw"]["Data"]).decode()
        return len(json.dumps(body).encode())

    figures: dict[str, dict] = {}
    rounds = 3
    times: dict[str, list[float]] = {"raw": [], "simple": []}
    for _ in range(rounds):  # interleaved: the machine's noise falls on both alike
        for name, build in (("raw", raw), ("simple", simple)):
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda m, b=build: client.send_email(**b(m)), messages))
            times[name].append(time.perf_counter() - started)
    for name, build in (("raw", raw), ("simple", simple)):
        median = statistics.median(times[name])
        figures[name] = {
            "msg_per_s": round(count / median, 1),
            "request_bytes_per_msg": round(statistics.mean(request_bytes(build, m) for m in messages)),
        }
    client.close()
    figures["messages"] = count
    figures["rounds"] = rounds
    figures["raw_vs_simple_speed"] = round(figures["raw"]["msg_per_s"] / figures["simple"]["msg_per_s"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--recipients", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in flight at once")
    parser.add_argument("--compare", type=int, default=1000, help="messages per content kind (0: skip)")
    parser.add_argument("--json", action="store_true", help="(the figures are always printed as JSON)")
    args = parser.parse_args()
    with LocalSes() as ses:
        ses.verify_domain("example.com")
        results = {"campaign": campaign(ses, args.recipients, args.concurrency)}
        if args.compare:
            ses.reset()
            ses.verify_domain("example.com")
            results["content"] = content_choice(ses, args.compare, args.concurrency)
    print(json.dumps(results, indent=2))
    run = results["campaign"]
    sys.exit(0 if run["duplicates"] == 0 and run["lost"] == 0 and run["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
