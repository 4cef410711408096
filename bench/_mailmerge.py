"""mailmerge 2.3.0, the Python CLI people use today, in a virtualenv of its own for comparisons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _measure import ROOT

VERSION = "2.3.0"
VENV = ROOT / ".bench" / "mailmerge"


def mailmerge_command(explicit: str | None = None) -> str:
    """The mailmerge executable: given, $MAILMERGE, or installed into .bench/mailmerge."""
    found = explicit or os.environ.get("MAILMERGE")
    if found:
        return found
    executable = VENV / "bin" / "mailmerge"
    if not executable.exists():
        print(f"installing mailmerge {VERSION} into {VENV} ...", file=sys.stderr)
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", f"mailmerge=={VERSION}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return str(executable)


def tierii_command() -> str:
    """The ``tierii`` console script of this interpreter's environment (what users run)."""
    script = Path(sys.executable).parent / "tierii"
    if not script.exists():
        raise SystemExit(
            f"{script} is missing: run the benchmarks from the environment tierii is installed in"
        )
    return str(script)
