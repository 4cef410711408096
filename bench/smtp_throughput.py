"""SMTP throughput: `tierii send` (provider smtp) against mailmerge 2.3.0 and Postfix's smtp-source.

Both commands send the same N personalised messages (5 variables, about 2 KB each) from the
same CSV to Postfix's smtp-sink on 127.0.0.1, each as the user would run it, in a subprocess,
timed from the command's start to its exit (start-up included: most campaigns are small).
Postfix's smtp-source (the C client) sends N messages of the same size over as many
connections: the most this machine can push through the sink, our physical limit.
For each: wall-clock msg/s, CPU microseconds per message (user + system time of that process,
from wait4), and the smtp-sink count that proves every message arrived.

Targets (issue 12): at 3,000 messages tierii >= 6x mailmerge; at 20,000, >= 85% of
smtp-source's msg/s; `tierii send` from its start to the first message handed to the SMTP
server <= 150 ms (an aiosmtpd server on 127.0.0.1 notes the first MAIL FROM).

    apt-get install postfix                  # for /usr/sbin/smtp-sink; the daemon is never started
    python bench/smtp_throughput.py [-n 3000 -n 20000] [--mailmerge PATH] [--json]

mailmerge is installed into .bench/mailmerge on first use unless --mailmerge or $MAILMERGE
names one.

Run it with the Python that has tierii-core, tierii-csv and tierii-smtp installed. A script,
not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mailmerge import mailmerge_command

from tierii_smtp.testing import SmtpSinkProcess

SENDER_ADDRESS = "Green Leaf Shop, 100 Main Street, Sacramento, CA 95814"
UNSUBSCRIBE = "https://shop.example/unsubscribe"
#: static text that brings each message to about 2 KB, as a real newsletter body would
FILLER = "\n".join(
    f"Item {i}: our {kind} selection is back in stock this week, with new arrivals every day."
    for i, kind in enumerate(["spring", "summer", "autumn", "winter"] * 4)
)
BODY = f"""Hi {{{{first_name}}}} {{{{last_name}}}},

good news from our shop in {{{{city}}}}: your {{{{product}}}} is ready for pickup.
Your order code is {{{{code}}}}.

{FILLER}

See you soon,
The Green Leaf team
--
Advertisement.
{{{{sender_address}}}}
Unsubscribe: {{{{unsubscribe_url}}}}
"""
SUBJECT = "{{first_name}}, your {{product}} is ready in {{city}}"
FROM = "Green Leaf Shop <hello@greenleaf.example>"


def write_inputs(root: Path, count: int) -> None:
    """contacts.csv for both; the tierii template and the equivalent mailmerge template."""
    with (root / "contacts.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "city", "product", "code"])
        for i in range(count):
            writer.writerow(
                [
                    f"customer{i}@example.com",
                    ["Ana", "Ben", "Chloé", "Dmitri"][i % 4],
                    f"Lastname{i}",
                    ["Sacramento", "Oakland", "Fresno"][i % 3],
                    ["Blue Dream", "Gelato", "Sour Diesel"][i % 3],
                    f"GL-{i:07d}",
                ]
            )
    (root / "offer.mustache").write_text(f"Subject: {SUBJECT}\nFrom: {FROM}\n\n{BODY}", encoding="utf-8")
    # mailmerge: Jinja2, which reads these {{variables}} the same way; the values tierii fills
    # in itself (postal address, unsubscribe link) are written out
    body = BODY.replace("{{sender_address}}", SENDER_ADDRESS).replace("{{unsubscribe_url}}", UNSUBSCRIBE)
    (root / "mailmerge_template.txt").write_text(
        f"TO: {{{{email}}}}\nSUBJECT: {SUBJECT}\nFROM: {FROM}\n\n{body}", encoding="utf-8"
    )


def run(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process, exit code)."""
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, process.returncode


def tierii_run(
    root: Path,
    sink: SmtpSinkProcess,
    count: int,
    connections: int,
    attempt: int,
    extra_env: dict[str, str] | None = None,
    name: str = "tierii",
) -> tuple[float, float]:
    """``extra_env`` adds settings (bench/dkim_signing.py: the TIERII_DKIM_* of each key set)."""
    env = _tierii_env(root, sink, connections, f"{name}-{count}-{attempt}")  # a fresh journal per run
    env.update(extra_env or {})
    command = [*TIERII, "send", "contacts.csv", "-t", "offer.mustache", "--provider", "smtp"]
    return _measured(name, command, root, env, sink, count, attempt)


#: the `tierii` command of the Python running this script
TIERII = [sys.executable, "-c", "from tierii_core.cli import main; main()"]


def _tierii_env(root: Path, sink: SmtpSinkProcess, connections: int, state: str) -> dict[str, str]:
    # bytecode is written and read as a user's installation does (PYTHONDONTWRITEBYTECODE off)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TIERII_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        TIERII_SMTP_HOST="127.0.0.1",
        TIERII_SMTP_PORT=str(sink.port),
        TIERII_SMTP_SECURITY="none",
        TIERII_SMTP_CONNECTIONS=str(connections),
        TIERII_SENDER_ADDRESS=SENDER_ADDRESS,
        TIERII_UNSUBSCRIBE_URL=UNSUBSCRIBE,
        TIERII_UNSUBSCRIBE_SECRET="benchmark-secret-0123456789",
        TIERII_STATE_DIR=str(root / f"state-{state}"),  # a fresh journal: every message is sent
        # without a key of its own, marketing mail needs a relay that signs (the authenticated
        # rule): the unsigned figure stands for such a relay
        TIERII_SMTP_RELAY_SIGNS="true",
    )
    return env


def mailmerge_run(
    root: Path, sink: SmtpSinkProcess, count: int, mailmerge: str, attempt: int
) -> tuple[float, float]:
    (root / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {sink.port}\nratelimit = 0\n", encoding="utf-8"
    )
    command = [mailmerge, "--no-dry-run", "--no-limit", "--output-format", "raw"]
    command += ["--template", "mailmerge_template.txt", "--database", "contacts.csv"]
    command += ["--config", "mailmerge_server.conf"]
    return _measured("mailmerge", command, root, dict(os.environ), sink, count, attempt)


SMTP_SOURCE = Path("/usr/sbin/smtp-source")


def smtp_source_run(
    root: Path, sink: SmtpSinkProcess, count: int, size: int, connections: int, attempt: int
) -> tuple[float, float]:
    """Postfix's C client: the same number of messages of the same size, no templates at all."""
    command = [str(SMTP_SOURCE), "-s", str(connections), "-l", str(size), "-m", str(count)]
    command += ["-f", "shop@example.com", "-t", "bench@example.com", f"127.0.0.1:{sink.port}"]
    return _measured("smtp-source", command, root, dict(os.environ), sink, count, attempt)


def _measured(
    name: str,
    command: list[str],
    root: Path,
    env: dict[str, str],
    sink: SmtpSinkProcess,
    count: int,
    attempt: int,
) -> tuple[float, float]:
    before = sink.count()
    log = root / f"{name}-{attempt}.log"
    wall, cpu, code = run(command, root, env, log)
    arrived = _settled_count(sink, before + count) - before
    if code != 0 or arrived != count:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{name}: exit {code}, {arrived} of {count} messages arrived\n{tail}")
    return wall, cpu


def _settled_count(sink: SmtpSinkProcess, expected: int) -> int:
    """smtp-sink writes its counter as sessions end: read until it shows every message."""
    deadline = time.monotonic() + 10
    count = sink.count()
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = sink.count()
    return count


def _first_message_size(root: Path) -> int:
    """The first contact's message as mailmerge renders it, plus typical headers (400 bytes)."""
    with (root / "contacts.csv").open(encoding="utf-8") as rows:
        first = next(csv.DictReader(rows))
    text = (root / "mailmerge_template.txt").read_text(encoding="utf-8")
    for name, value in first.items():
        text = text.replace("{{" + name + "}}", value)
    return len(text.encode()) + 400


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


class _FirstMail:
    """aiosmtpd handler that notes when the first MAIL FROM arrives (perf_counter seconds)."""

    def __init__(self) -> None:
        self.at: float | None = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.at is None:
            self.at = time.perf_counter()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def first_message_ms(root: Path, runs: int) -> float:
    """Median milliseconds from starting `tierii send` to the first message at the SMTP server."""
    import socket

    from aiosmtpd.controller import Controller

    class _Port:
        port = 0

    times = []
    for attempt in range(runs + 1):  # the first run warms the file cache, and is not counted
        handler = _FirstMail()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            _Port.port = port
            env = _tierii_env(root, _Port(), 1, f"first-{attempt}")  # type: ignore[arg-type]
            command = [*TIERII, "send", "contacts.csv", "-t", "offer.mustache", "--provider", "smtp"]
            started = time.perf_counter()
            done = subprocess.run([*command, "--limit", "20"], cwd=root, env=env, capture_output=True)
            if done.returncode != 0 or handler.at is None:
                raise SystemExit(f"first message: exit {done.returncode}\n{done.stderr[-2000:].decode()}")
        finally:
            controller.stop()
        if attempt:
            times.append((handler.at - started) * 1000)
    return statistics.median(times)


def measure_size(root: Path, count: int, args: argparse.Namespace) -> dict:
    write_inputs(root, count)
    size = _first_message_size(root)
    results: dict[str, list[tuple[float, float]]] = {"tierii": [], "mailmerge": [], "smtp-source": []}
    with SmtpSinkProcess(dump=False) as sink:
        for attempt in range(args.repeat):
            results["tierii"].append(tierii_run(root, sink, count, args.connections, attempt))
            results["mailmerge"].append(mailmerge_run(root, sink, count, args.mailmerge, attempt))
            results["smtp-source"].append(smtp_source_run(root, sink, count, size, args.connections, attempt))
    senders = {
        name: {
            "seconds": round(statistics.median(w for w, _ in runs), 3),
            "msg_per_s": round(count / statistics.median(w for w, _ in runs)),
            "cpu_us_per_msg": round(statistics.median(c for _, c in runs) / count * 1e6),
        }
        for name, runs in results.items()
    }
    rate = {name: count / figures["seconds"] for name, figures in senders.items()}
    return {
        "messages": count,
        "size": size,
        "senders": senders,
        "tierii_vs_mailmerge": round(rate["tierii"] / rate["mailmerge"], 2),
        "tierii_vs_smtp_source": round(rate["tierii"] / rate["smtp-source"], 2),
    }


def _installed_distributions() -> str:
    """The tierii distributions of this interpreter, and how: the start-up figure depends on
    which plugins load (each imports its components) and on editable installs' import hooks."""
    found = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.startswith("tierii"):
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
            editable = direct.get("dir_info", {}).get("editable", False)
            found.append(name + (" (editable)" if editable else ""))
    return ", ".join(sorted(set(found)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-n", "--messages", type=int, action="append", help="repeatable (default: 3000 and 20000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each sender; the median is shown")
    parser.add_argument("--connections", type=int, default=4, help="TIERII_SMTP_CONNECTIONS")
    parser.add_argument(
        "--first-runs", type=int, default=7, help="runs for the start-to-first-message median"
    )
    parser.add_argument("--mailmerge", help="the mailmerge 2.3.0 command (default: $MAILMERGE, or .bench/)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = args.messages or [3000, 20000]
    args.mailmerge = mailmerge_command(args.mailmerge)
    version = subprocess.run([args.mailmerge, "--version"], capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="tierii-bench-") as scratch:
        root = Path(scratch)
        by_size = [measure_size(root, count, args) for count in sizes]
        write_inputs(root, 3000)
        first_ms = first_message_ms(root, args.first_runs)

    largest = by_size[-1]
    result = {**largest, "sizes": by_size, "first_message_ms": round(first_ms, 1)}
    if args.json:
        print(json.dumps(result))
        return

    print(f"machine: {_cpu_model()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(
        f"python {platform.python_version()}; tierii-core {metadata.version('tierii-core')}, "
        f"tierii-smtp {metadata.version('tierii-smtp')}; {version}"
    )
    print(f"installed: {_installed_distributions()}")
    print(f"tierii with TIERII_SMTP_CONNECTIONS={args.connections}; median of {args.repeat} runs each")
    print("wall clock from each command's start to its exit")
    for figures in by_size:
        count = figures["messages"]
        print(
            f"\n{count} messages of about {figures['size'] / 1000:.1f} KB, 5 variables, "
            "to smtp-sink on 127.0.0.1"
        )
        print(f"{'sender':<12} {'seconds':>8} {'msg/s':>8} {'CPU µs/msg':>11}")
        for name, row in figures["senders"].items():
            print(f"{name:<12} {row['seconds']:8.2f} {row['msg_per_s']:8.0f} {row['cpu_us_per_msg']:11.0f}")
        print(
            f"tierii / mailmerge: {figures['tierii_vs_mailmerge']:.1f}x"
            + (" (target >= 6x)" if count == 3000 else "")
        )
        print(
            f"tierii / smtp-source: {figures['tierii_vs_smtp_source']:.0%}"
            + (" (target >= 85%)" if count == 20000 else "")
        )
    print(
        f"\nstart to first message at the server: {first_ms:.0f} ms "
        f"(median of {args.first_runs}; target <= 150 ms)"
    )


if __name__ == "__main__":
    main()
