"""mailmerge 2.3.0, the Python CLI people use today, in a virtualenv of its own for comparisons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

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


INSTALLED = ROOT / ".bench" / "tierii"
PLUGINS = ["tierii-csv", "tierii-sql", "tierii-smtp", "tierii-mailersend", "tierii-cannabis", "tierii-ses"]


def tierii_command() -> str:
    """``tierii`` as users get it: the core and every plugin of this repository installed from
    their sources, not in editable mode (whose import hooks cost startup time), in .bench/tierii."""
    if INSTALLED.exists():
        shutil.rmtree(INSTALLED)
    print(f"installing tierii-core and {len(PLUGINS)} plugins into {INSTALLED} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(INSTALLED)], check=True)
    sources = [str(ROOT)] + [str(ROOT / "plugins" / name) for name in PLUGINS]
    pip = [str(INSTALLED / "bin" / "pip"), "install", "-q", *sources]
    subprocess.run(pip, check=True, stdout=subprocess.DEVNULL)
    return str(INSTALLED / "bin" / "tierii")
