"""The smtp provider alone: pre-built messages through ``SmtpProvider.send`` to smtp-sink.

What is left of a send without the core's pipeline (rendering, rules, journal): the pool,
the pipelined transactions, reading replies, classifying outcomes, dot-stuffing. Messages are
serialised before the clock starts (``message_bytes`` hands back the bytes), so the figure is
the provider's own. Batches of 400 (the provider's ``max_batch``), one process, each
connection count in turn on the same sink; CPU is this process's user + system time.

    apt-get install postfix                  # for /usr/sbin/smtp-sink; the daemon is never started
    python bench/smtp_provider.py [-n 20000] [--connections 1 --connections 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smtp_throughput import BODY

from tierii_core.logs import configure_logging
from tierii_core.models import Address, Contact, Message, Status
from tierii_core.settings import SettingsReader
from tierii_smtp.provider import SmtpProvider
from tierii_smtp.settings import SmtpSettings
from tierii_smtp.testing import SmtpSinkProcess

TEXT = BODY.replace("{{", "").replace("}}", "")  # about 2 KB, as in smtp_throughput.py
SENDER = Address("hello@greenleaf.example", "Green Leaf Shop")


def message(number: int) -> Message:
    email = f"customer{number}@example.com"
    return Message(
        contact=Contact(email, {"email": email}),
        sender=SENDER,
        to=Address(email, "Ana Lastname"),
        subject="Ana, your order is ready",
        text=TEXT,
        message_id=f"<bench.{number}@greenleaf.example>",
        date=datetime.now(timezone.utc),
        headers=(("List-Unsubscribe", f"<https://shop.example/unsubscribe?t={number}>"),),
    )


def one_run(port: int, messages: list[Message], connections: int) -> tuple[float, float]:
    """(msg/s, CPU µs per message) of one run."""
    reader = SettingsReader(
        {
            "TIERII_SMTP_HOST": "127.0.0.1",
            "TIERII_SMTP_PORT": str(port),
            "TIERII_SMTP_SECURITY": "none",
            "TIERII_SMTP_CONNECTIONS": str(connections),
        }
    )
    provider = SmtpProvider(reader.load(SmtpSettings, "smtp"), None)
    serialised = {id(m): m.as_bytes() for m in messages}
    provider.message_bytes = lambda message: serialised[id(message)]  # type: ignore[method-assign]
    with provider:
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        outcomes = [o for i in range(0, len(messages), 400) for o in provider.send(messages[i : i + 400])]
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    if [o.status for o in outcomes] != [Status.SENT] * len(messages):
        raise SystemExit("not every message was sent")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return len(messages) / wall, cpu / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, action="append", help="repeatable (default: 1 and 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown")
    args = parser.parse_args()
    configure_logging(json=True, level=logging.ERROR)
    messages = [message(i) for i in range(args.messages)]
    counts = args.connections or [1, 4]
    runs: dict[int, list[tuple[float, float]]] = {c: [] for c in counts}
    with SmtpSinkProcess(dump=False) as sink:
        for _ in range(args.repeat):
            for connections in counts:  # interleaved: the machine's noise falls on each alike
                runs[connections].append(one_run(sink.port, messages, connections))
    print(f"{args.messages:,} pre-built messages of {len(messages[0].as_bytes()):,} bytes to smtp-sink")
    print(f"median of {args.repeat} runs\n")
    print("connections    msg/s  CPU µs/msg")
    for connections, figures in runs.items():
        rate = statistics.median(r for r, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        print(f"{connections:11d} {rate:8,.0f} {cpu:11.0f}")


if __name__ == "__main__":
    main()
