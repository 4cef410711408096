"""Startup: wall time of `tierii --help` (every plugin installed and loaded) vs `mailmerge --version`.

tierii is measured twice, with the core and all nine plugins of this repository: installed
as users install them (not in editable mode) into .bench/tierii, and in editable mode, as the
README's first command installs them, into .bench/tierii-editable. Both run as a user's
commands do: bytecode is written on first use (PYTHONDONTWRITEBYTECODE is left out) and the
warm-up runs fill the caches (the file cache, the bytecode, the plugins' entry points).

Target (issue 12): `tierii --help` <= 0.8x `mailmerge --version`, both ways. Median of N runs
each, interleaved so that the machine's noise falls on all three alike.

    python bench/startup.py [--runs 15] [--mailmerge PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mailmerge import mailmerge_command, tierii_command
from _measure import measure

TARGET = 0.8


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--mailmerge", help="the mailmerge 2.3.0 command (default: installed in .bench/)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    commands = {
        "tierii --help": [tierii_command(), "--help"],
        "tierii --help (editable)": [tierii_command(editable=True), "--help"],
        "mailmerge --version": [mailmerge_command(args.mailmerge), "--version"],
    }
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure() passes the environment on
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="tierii-startup-") as tmp:
        for _ in range(3):  # warm up: file cache, bytecode, the entry-point cache
            for command in commands.values():
                measure(command, cwd=Path(tmp))
        for _ in range(args.runs):
            for name, command in commands.items():
                run = measure(command, cwd=Path(tmp))
                if run.returncode != 0:
                    raise SystemExit(f"{name} failed: {run.stderr[-1000:]}")
                times[name].append(run.wall)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    mailmerge = medians["mailmerge --version"]
    result = {
        "tierii_ms": round(medians["tierii --help"], 1),
        "tierii_editable_ms": round(medians["tierii --help (editable)"], 1),
        "mailmerge_ms": round(mailmerge, 1),
        "ratio": round(medians["tierii --help"] / mailmerge, 2),
        "ratio_editable": round(medians["tierii --help (editable)"] / mailmerge, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in medians.items():
            print(f"{name:<26} {value:7.1f} ms (median of {args.runs})")
        ratios = f"installed {result['ratio']:.2f}, editable {result['ratio_editable']:.2f}"
        print(f"ratio to mailmerge --version: {ratios} (target <= {TARGET})")
    return result


if __name__ == "__main__":
    main()
