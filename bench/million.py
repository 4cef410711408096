"""A million real sends: `tierii send` of 1,000,000 contacts to Postfix's smtp-sink (not a dry run).

Targets (issue 12): peak RSS at 1,000,000 <= 1.2x the peak at 10,000, and the last 100,000
messages no slower than the first 100,000 (neither the journal nor the de-duplication of
addresses may slow down as they grow). The rates come from the journal itself: the time
each recipient was recorded as sent (``recipients.updated_at``).

    python bench/million.py [--small 10000] [--large 1000000] [--json]

It takes minutes (the large run is ~2 GB of SMTP traffic on 127.0.0.1): run it once.
Run it with the Python that has tierii-core, tierii-csv and tierii-smtp installed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, machine, measure, write_contacts, write_template

from tierii_smtp.testing import SmtpSinkProcess

WINDOW = 100_000


def send(workdir: Path, sink: SmtpSinkProcess, contacts: int) -> dict:
    source = write_contacts(workdir / f"contacts-{contacts}.csv", contacts)
    template = write_template(workdir)
    state = workdir / f"state-{contacts}"
    env = {
        **ENV,
        "TIERII_STATE_DIR": str(state),
        "TIERII_SMTP_HOST": "127.0.0.1",
        "TIERII_SMTP_PORT": str(sink.port),
        "TIERII_SMTP_SECURITY": "none",
        "TIERII_SMTP_CONNECTIONS": "4",
        "TIERII_SMTP_RELAY_SIGNS": "true",
    }
    before = sink.count()
    command = [sys.executable, "-c", "from tierii_core.cli import main; main()"]
    command += ["send", str(source), "-t", str(template), "--provider", "smtp"]
    run = measure(command, cwd=workdir, env=env)
    if run.returncode != 0 or f"sent: {contacts}\n" not in run.stdout:
        raise SystemExit(f"the send failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-2000:]}")
    result = {
        "contacts": contacts,
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "seconds": round(run.wall, 1),
        "arrived": sink.count() - before,
    }
    window = min(WINDOW, contacts // 2)
    with sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True) as db:
        times = [row[0] for row in db.execute("SELECT updated_at FROM recipients ORDER BY updated_at")]
    if len(times) >= 2 * window:
        first = window / max(times[window - 1] - times[0], 1e-9)
        last = window / max(times[-1] - times[-window], 1e-9)
        result.update(window=window, first_msg_per_s=round(first), last_msg_per_s=round(last))
    return result


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierii-million-") as tmp, SmtpSinkProcess(dump=False) as sink:
        small = send(Path(tmp), sink, args.small)
        large = send(Path(tmp), sink, args.large)
    result = {
        "small": small,
        "large": large,
        "rss_ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
        "last_vs_first": round(large["last_msg_per_s"] / large["first_msg_per_s"], 2),
    }
    if args.json:
        print(json.dumps(result))
        return result
    print(machine())
    for row in (small, large):
        print(
            f"{row['contacts']:>9,} sent: peak RSS {row['peak_rss_mb']:6.1f} MB, {row['seconds']:7.1f} s, "
            f"{row['arrived']:,} arrived at smtp-sink"
        )
    print(f"peak RSS ratio {result['rss_ratio']:.2f} (target <= 1.2)")
    print(
        f"first {large['window']:,}: {large['first_msg_per_s']} msg/s; last {large['window']:,}: "
        f"{large['last_msg_per_s']} msg/s; last/first {result['last_vs_first']:.2f} (target >= 1.0)"
    )
    return result


if __name__ == "__main__":
    main()
