"""How fast `tierii feedback process` gets through a mailbox of reports (a Maildir, in-process).

    python bench/feedback_throughput.py [--reports 3000] [--json]

Builds a Maildir of N reports in four shapes (RFC 3464 DSNs, read by TierII's own reader;
non-standard bounces from flufl.bounce's corpus, read by its detectors; ARF complaints; noise),
processes it once (classify, suppress, record, move), then again (everything already
processed). Prints messages per second for each pass and, per shape, the classification
cost alone; and the one-off cost of importing flufl.bounce. Ratios matter, not the absolute
figures (this machine is shared).
"""

from __future__ import annotations

import argparse
import json
import mailbox
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "plugins" / "tierii-feedback" / "tests"
sys.path.insert(0, str(TESTS))

from feedback_mailset import FLUFL, render  # noqa: E402

from tierii_feedback.maildir import process_maildir  # noqa: E402
from tierii_feedback.processor import Processor  # noqa: E402
from tierii_feedback.reports import classify  # noqa: E402
from tierii_feedback.settings import FeedbackSettings  # noqa: E402

NON_STANDARD = ["postfix_01.txt", "exim_01.txt", "qmail_01.txt", "yahoo_01.txt", "microsoft_01.txt"]


def shapes(n: int) -> dict[str, list[bytes]]:
    each = n // 4
    return {
        "RFC 3464 DSN": [render("gmail-5.1.1.eml", f"user{i}@example.com", i) for i in range(each)],
        "non-standard (flufl.bounce)": [
            (FLUFL / NON_STANDARD[i % len(NON_STANDARD)]).read_bytes() + f"\nX-Bench: {i}\n".encode()
            for i in range(each)
        ],
        "ARF complaint": [render("arf-rfc5965.eml", f"c{i}@example.net", i) for i in range(each)],
        "noise": [render("human-reply.eml", f"h{i}@example.org", i) for i in range(each)],
    }


def flufl_import_ms() -> float:
    code = "import time; t = time.perf_counter(); import flufl.bounce; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    by_shape = shapes(args.reports)
    for name, messages in by_shape.items():
        started = time.perf_counter()
        for raw in messages:
            classify(raw)
        figures[f"classify {name} (msg/s)"] = round(len(messages) / (time.perf_counter() - started))
    with tempfile.TemporaryDirectory() as work:
        box = mailbox.Maildir(str(Path(work) / "Maildir"), create=True)
        total = 0
        for messages in by_shape.values():
            for raw in messages:
                box.add(raw)
                total += 1
        for label in ("first pass", "second pass"):
            processor = Processor(Path(work) / "state", FeedbackSettings())
            started = time.perf_counter()
            process_maildir(Path(work) / "Maildir", processor, "TierII-Processed", lambda handled: None)
            elapsed = time.perf_counter() - started
            processor.close()
            seen = total if label == "first pass" else len(by_shape["noise"])  # reports moved away
            figures[f"process_maildir {label} (msg/s)"] = round(seen / elapsed)
    figures["import flufl.bounce (ms)"] = round(flufl_import_ms(), 1)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"tierii feedback: {args.reports} messages, four shapes")
    for name, value in figures.items():
        print(f"  {name:48} {value:>10}")


if __name__ == "__main__":
    main()
