"""Kill and resume: a 20,000-recipient campaign killed with SIGKILL at random moments, then
re-run to the end. Counts what every recipient received, at a real SMTP server on 127.0.0.1
(aiosmtpd, in this process, counting deliveries per recipient).

Prints duplicates (must be 0 among recipients the journal does not report unknown), lost
(must be 0: every recipient is sent, failed with a reason, excluded, or reported unknown),
unknown, and the journal's cost (bench/journal_cost.py).

    python bench/kill_resume.py [-n 20000] [--kills 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, tierii, write_contacts, write_template

from tierii_core.testing.smtp_sink import SmtpSink


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--recipients", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sink = SmtpSink()
    sink.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tierii-kill-") as tmp:
            work = Path(tmp)
            contacts = write_contacts(work / "contacts.csv", args.recipients)
            template = write_template(work)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
            env.update(ENV)
            env.update(
                TIERII_PROVIDER="smtp",
                TIERII_SMTP_HOST="127.0.0.1",
                TIERII_SMTP_PORT=str(sink.port),
                TIERII_SMTP_SECURITY="none",
                TIERII_SMTP_RELAY_SIGNS="true",  # a relay that DKIM-signs (the authenticated rule)
            )
            command = tierii("send", str(contacts), "-t", str(template), "--batch-size", "50")
            started = time.monotonic()
            process = subprocess.Popen(
                command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            full = process.wait()  # one whole run first, on a copy, to learn how long a run takes
            del full
            duration = time.monotonic() - started
            sink.clear()
            for leftover in (work / ".tierii").glob("*"):
                leftover.unlink()
            kills, runs = 0, 0
            while True:
                runs += 1
                process = subprocess.Popen(
                    command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                if kills < args.kills:
                    try:
                        # each run gets at most its share of the work before the kill
                        code = process.wait(timeout=rng.uniform(0.3, 0.3 + duration / (args.kills + 1)))
                    except subprocess.TimeoutExpired:
                        process.send_signal(signal.SIGKILL)
                        process.wait()
                        kills += 1
                        continue
                else:
                    code = process.wait()
                if code in (0, 1):
                    break
                if runs > args.kills + 20:
                    raise SystemExit(f"the campaign does not finish (last exit {code})")
            status = subprocess.run(
                tierii("status", "--json", "--list", "all"),
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
    finally:
        sink.stop()
    report = json.loads(status.stdout)
    states = {row["email"]: state for state, rows in report["recipients"].items() for row in rows}
    received = Counter(address.lower() for address in sink.recipients)
    unknown = {email for email, state in states.items() if state == "unknown"}
    expected = {f"user{i}@example{i % 97}.com" for i in range(args.recipients)}
    result = {
        "recipients": args.recipients,
        "kills": kills,
        "runs": runs,
        "duplicates": sum(n - 1 for e, n in received.items() if n > 1 and e not in unknown),
        "duplicates_among_unknown": sum(n - 1 for e, n in received.items() if n > 1 and e in unknown),
        "lost": len({e for e in expected if states.get(e) not in ("sent", "failed", "excluded", "unknown")}),
        "unknown": len(unknown),
        "unknown_received": sum(1 for e in unknown if received[e]),
        "sent_not_received": sum(1 for e, s in states.items() if s == "sent" and not received[e]),
        "counts": report["counts"],
    }
    journal = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("journal_cost.py")), "--json"],
        capture_output=True,
        text=True,
    )
    result["journal"] = json.loads(journal.stdout) if journal.returncode == 0 else None
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.recipients:,} recipients, killed {kills} times at random moments, {runs} runs to the end"
        )
        print(f"  duplicates (not reported unknown): {result['duplicates']}")
        print(f"  lost: {result['lost']}")
        print(f"  unknown: {result['unknown']} ({result['unknown_received']} of them did arrive)")
        print(f"  sent per the journal but never received: {result['sent_not_received']}")
        if result["journal"]:
            j = result["journal"]
            print(
                f"  journal: {j['with_journal_per_s']:,} msg/s with, {j['without_journal_per_s']:,} without"
            )
    return result


if __name__ == "__main__":
    main()
