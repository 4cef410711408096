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
EDITABLE = ROOT / ".bench" / "tierii-editable"
#: every plugin of this repository
PLUGINS = [
    "tierii-csv",
    "tierii-sql",
    "tierii-smtp",
    "tierii-mailersend",
    "tierii-cannabis",
    "tierii-azure",
    "tierii-ses",
    "tierii-feedback",
    "tierii-keyring",
]


def tierii_command(*, editable: bool = False) -> str:
    """``tierii`` with the core and every plugin of this repository, in a virtualenv of its own:
    installed from their sources as users install them (.bench/tierii), or in editable mode as
    the README's first command installs them (.bench/tierii-editable: import hooks, bytecode
    written on first use)."""
    venv = EDITABLE if editable else INSTALLED
    if venv.exists():
        shutil.rmtree(venv)
    how = "in editable mode" if editable else "from their sources"
    print(f"installing tierii-core and {len(PLUGINS)} plugins {how} into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    sources = [str(ROOT)] + [str(ROOT / "plugins" / name) for name in PLUGINS]
    if editable:
        sources = [arg for source in sources for arg in ("-e", source)]
    pip = [str(venv / "bin" / "pip"), "install", "-q", *sources]
    subprocess.run(pip, check=True, stdout=subprocess.DEVNULL)
    return str(venv / "bin" / "tierii")
