"""Peak memory of `tierii send --dry-run` (renders and checks every message, sends nothing).

Target (issue 8): peak RSS at 1M contacts ≤ 1.2x the 10k one, and ≤ 150 MB.

    python bench/memory.py [--small 10000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, measure, tierii, write_contacts, write_template


def dry_run(workdir: Path, contacts: int) -> dict:
    source = write_contacts(workdir / f"contacts-{contacts}.csv", contacts)
    template = write_template(workdir)
    run = measure(tierii("send", str(source), "-t", str(template), "--dry-run"), cwd=workdir, env=ENV)
    if run.returncode != 0 or f"dry run: {contacts} would be sent" not in run.stdout:
        raise SystemExit(f"the dry run failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-2000:]}")
    return {"contacts": contacts, "peak_rss_mb": round(run.peak_rss_mb, 1), "seconds": round(run.wall, 1)}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierii-memory-") as tmp:
        small, large = dry_run(Path(tmp), args.small), dry_run(Path(tmp), args.large)
    result = {"small": small, "large": large, "ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)}
    if args.json:
        print(json.dumps(result))
    else:
        for row in (small, large):
            rss, seconds = row["peak_rss_mb"], row["seconds"]
            print(f"{row['contacts']:>9,} contacts: peak RSS {rss:6.1f} MB in {seconds:6.1f} s")
        print(f"ratio {result['ratio']:.2f} (target <= 1.2; and <= 150 MB)")
    return result


if __name__ == "__main__":
    main()
