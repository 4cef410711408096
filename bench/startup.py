"""Startup: wall time of `tierii --help` (every plugin installed and loaded) vs `mailmerge --version`.

tierii is installed as users install it (not in editable mode) into .bench/tierii, with the
core and every plugin of this repository.

Target (issue 8): `tierii --help` ≤ 1.0x `mailmerge --version`. Median of N runs each,
interleaved so that the machine's noise falls on both alike.

    python bench/startup.py [--runs 15] [--mailmerge PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mailmerge import mailmerge_command, tierii_command
from _measure import measure


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--mailmerge", help="the mailmerge 2.3.0 command (default: installed in .bench/)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    commands = {
        "tierii --help": [tierii_command(), "--help"],
        "mailmerge --version": [mailmerge_command(args.mailmerge), "--version"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="tierii-startup-") as tmp:
        for command in commands.values():  # warm the file cache
            measure(command, cwd=Path(tmp))
        for _ in range(args.runs):
            for name, command in commands.items():
                run = measure(command, cwd=Path(tmp))
                if run.returncode != 0:
                    raise SystemExit(f"{name} failed: {run.stderr[-1000:]}")
                times[name].append(run.wall)
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "tierii_ms": round(medians["tierii --help"] * 1000, 1),
        "mailmerge_ms": round(medians["mailmerge --version"] * 1000, 1),
    }
    result["ratio"] = round(result["tierii_ms"] / result["mailmerge_ms"], 2)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"tierii --help        {result['tierii_ms']:7.1f} ms (median of {args.runs})")
        print(f"mailmerge --version  {result['mailmerge_ms']:7.1f} ms")
        print(f"ratio {result['ratio']:.2f} (target <= 1.0)")
    return result


if __name__ == "__main__":
    main()
