"""Peak memory of `tierii send --dry-run --where ...` on a CSV file: the filter streams.

Two segments of the same file (4% of the contacts in both), at 10k and 1M contacts: the
1M run's peak RSS should stay within ~1.2x of the 10k one (flat memory), whatever the
file's size and however many contacts the segment leaves out.

    python bench/segment_memory.py [--small 10000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, measure, tierii, write_contacts, write_template

WHERE = ('city in ("City1", "City2")', 'favorite != "Strain 3"')


def segment_run(workdir: Path, contacts: int) -> dict:
    source = write_contacts(workdir / f"contacts-{contacts}.csv", contacts)
    template = write_template(workdir)
    where = [arg for expression in WHERE for arg in ("--where", expression)]
    run = measure(tierii("send", str(source), "-t", str(template), "--dry-run", *where), cwd=workdir, env=ENV)
    rendered = re.search(r"dry run: (\d+) would be sent", run.stdout)
    left_out = re.search(r"not in segment \(--where; not recipients\): (\d+)", run.stdout)
    if run.returncode != 0 or not rendered or not left_out:
        raise SystemExit(f"the dry run failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-2000:]}")
    return {
        "contacts": contacts,
        "in_segment": int(rendered[1]),
        "not_in_segment": int(left_out[1]),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "seconds": round(run.wall, 1),
    }


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierii-segment-") as tmp:
        small, large = segment_run(Path(tmp), args.small), segment_run(Path(tmp), args.large)
    result = {"small": small, "large": large, "ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)}
    if args.json:
        print(json.dumps(result))
    else:
        for row in (small, large):
            print(
                f"{row['contacts']:>9,} contacts ({row['in_segment']:,} in the segment, "
                f"{row['not_in_segment']:,} not): peak RSS {row['peak_rss_mb']:6.1f} MB "
                f"in {row['seconds']:6.1f} s"
            )
        print(f"ratio {result['ratio']:.2f} (flat: <= 1.2)")
    return result


if __name__ == "__main__":
    main()
