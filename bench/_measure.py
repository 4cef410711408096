"""Shared by the benchmark scripts: run a command and measure it, make contacts and templates."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: ~2 KB personalised message, 5 variables: the shape every benchmark sends
TEMPLATE = (
    """Subject: {{first_name}}, your {{favorite}} restock is in
From: Green Leaf Dispensary <hello@greenleaf.example>

Hi {{first_name}} {{last_name}},

Good news from Green Leaf in {{city}}: {{favorite}} is back on our shelves this week.
"""
    + "\n".join(
        f"Line {i}: fresh stock, new prices, opening hours and events at your local store, all week long."
        for i in range(16)
    )
    + """

Advertisement. {{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""
)

ENV = {
    "TIERII_SENDER_ADDRESS": "Green Leaf Dispensary, 100 Main Street, Sacramento, CA 95814",
    "TIERII_UNSUBSCRIBE_URL": "https://greenleaf.example/unsubscribe",
    "TIERII_UNSUBSCRIBE_SECRET": "benchmark-secret-0123456789abcdef",
    "TIERII_AD_NOTICE": "Advertisement",
}


@attrs.frozen
class Measured:
    returncode: int
    wall: float  # seconds
    cpu: float  # user + system seconds of the process and its children
    peak_rss_mb: float
    stdout: str
    stderr: str


def measure(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Measured:
    """Run ``command``; its wall time, CPU time and peak resident set size (os.wait4)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    clean.update(env or {})
    out, err = cwd / ".stdout", cwd / ".stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=clean, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        out.read_text(),
        err.read_text(),
    )


def tierii(*args: str) -> list[str]:
    return [sys.executable, "-m", "tierii_core.cli", *args]


def write_contacts(path: Path, count: int) -> Path:
    """``count`` contacts with the template's five variables, written in chunks (flat memory)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,first_name,last_name,city,favorite\n")
        for start in range(0, count, 10_000):
            handle.write(
                "".join(
                    f"user{i}@example{i % 97}.com,First{i},Last{i},City{i % 50},Strain {i % 30}\n"
                    for i in range(start, min(start + 10_000, count))
                )
            )
    return path


def write_template(directory: Path) -> Path:
    path = directory / "restock.mustache"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def machine() -> str:
    """One line about this machine and the versions measured."""
    import platform
    from importlib import metadata

    cpus = os.cpu_count()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return (
        f"{model}, {cpus} cores; Python {platform.python_version()}; "
        f"tierii-core {metadata.version('tierii-core')}; {platform.system()} {platform.release()}"
    )
