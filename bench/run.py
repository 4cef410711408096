"""Every benchmark in one run: one table, and docs/benchmarks.md with a chart.

    tox -e bench                 # or: python bench/run.py [--quick]

Runs, on 127.0.0.1 only and side by side (this machine is shared and noisy: compare ratios):
SMTP throughput (tierii vs mailmerge 2.3.0 vs Postfix's smtp-source), MailerSend bulk through
the local MailerSend under a scaled-down limit, peak memory of a dry run at 10k and 1M
contacts, startup time, the journal's cost, kill-and-resume, and SES through moto's server.
Each part is a script of its own in bench/.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, machine

HERE = Path(__file__).resolve().parent
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks.png"


#: the scripts this run runs (the others are listed in the doc as run on their own)
RAN: list[str] = []


def part(script: str, *args: str) -> dict:
    """Run one benchmark script with --json; its figures."""
    RAN.append(script)
    print(f"running {script} {' '.join(args)} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args, "--json"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout)
    print(f"  {time.monotonic() - started:.0f} s", file=sys.stderr)
    return figures


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(measure, figure, target, met?) for the table."""
    smtp, ms, memory, startup, journal, kill = (
        results[k] for k in ("smtp", "mailersend", "memory", "startup", "journal", "kill")
    )
    senders = smtp["senders"]
    minimum = ms["minimum_s_the_limit_allows"]
    return [
        *_smtp_rows(smtp),
        (
            "SMTP CPU us/msg",
            " / ".join(f"{name} {figures['cpu_us_per_msg']}" for name, figures in senders.items()),
            "",
            f"tierii at {smtp['tierii_vs_smtp_source']:.0%} of the C client's msg/s",
        ),
        (
            f"MailerSend {ms['recipients']:,} recipients, bulk {ms['bulk_size']}",
            f"{ms['elapsed_s']:.1f} s for a minimum of {minimum:.1f} s "
            f"({ms['limit']}); "
            f"{ms['bulk_requests_accepted']} requests, {ms['bulk_requests_refused_429']} refused; "
            f"duplicates {ms['duplicates']}, lost {ms['lost']}",
            "within 5% of the minimum, 0 duplicates, 0 lost",
            _met(
                ms["elapsed_s"] <= minimum * 1.05 and ms["duplicates"] == 0 and ms["lost"] == 0,
                f"{ms['elapsed_s'] / minimum - 1:+.1%}",
            ),
        ),
        (
            "Peak RSS, send --dry-run",
            f"{memory['small']['contacts']:,}: {memory['small']['peak_rss_mb']} MB / "
            f"{memory['large']['contacts']:,}: {memory['large']['peak_rss_mb']} MB",
            "large <= 1.2x small and <= 150 MB",
            _met(memory["ratio"] <= 1.2 and memory["large"]["peak_rss_mb"] <= 150, f"{memory['ratio']:.2f}x"),
        ),
        (
            "Startup",
            f"tierii --help {startup['tierii_ms']} ms "
            f"(editable {startup.get('tierii_editable_ms', '-')} ms) / "
            f"mailmerge --version {startup['mailmerge_ms']} ms",
            "<= 0.8x, both ways",
            _met(
                max(startup["ratio"], startup.get("ratio_editable", 0)) <= 0.8,
                f"{startup['ratio']:.2f}x / {startup.get('ratio_editable', 0):.2f}x",
            ),
        ),
        (
            f"Kill and resume, {kill['recipients']:,} recipients over SMTP",
            f"{kill['kills']} SIGKILLs, {kill['runs']} runs: duplicates {kill['duplicates']}, "
            f"lost {kill['lost']}, unknown {kill['unknown']} (reported, not resent)",
            "0 duplicates, 0 lost",
            _met(
                kill["duplicates"] == 0 and kill["lost"] == 0,
                "0 / 0" if not kill["duplicates"] else "duplicates",
            ),
        ),
        _ses_row(results["ses"]),
        *_dkim_rows(results["dkim"]),
        (
            f"Journal cost, {journal['messages']:,} messages",
            f"{journal['with_journal_per_s']:,} msg/s with / {journal['without_journal_per_s']:,} without",
            "",
            f"{journal['journal_share']:.0%} of the bare pipeline",
        ),
    ]


def _smtp_rows(smtp: dict) -> list[tuple[str, str, str, str]]:
    """One row per size (3,000: >= 6x mailmerge; 20,000: >= 85% of smtp-source), then the
    start to the first message."""
    found = []
    for size in smtp.get("sizes", [smtp]):
        senders = size["senders"]
        small = size["messages"] < 10_000
        found.append(
            (
                f"SMTP msg/s, {size['messages']:,} x {size['size'] / 1000:.1f} KB, start to exit",
                f"tierii {senders['tierii']['msg_per_s']:,} / "
                f"mailmerge {senders['mailmerge']['msg_per_s']:,} / "
                f"smtp-source {senders['smtp-source']['msg_per_s']:,}",
                ">= 6x mailmerge" if small else ">= 85% of smtp-source",
                _met(size["tierii_vs_mailmerge"] >= 6, f"{size['tierii_vs_mailmerge']:.1f}x")
                if small
                else _met(size["tierii_vs_smtp_source"] >= 0.85, f"{size['tierii_vs_smtp_source']:.0%}"),
            )
        )
    if "first_message_ms" in smtp:
        first = smtp["first_message_ms"]
        found.append(
            (
                "tierii send: start to first message, every plugin installed",
                f"{first:.0f} ms",
                "<= 150 ms (tierii-core, -csv, -smtp)",
                _met(first <= 150, ""),
            )
        )
    return found


def _ses_row(ses: dict) -> tuple[str, str, str, str]:
    run, content = ses["campaign"], ses.get("content", {})
    raw = f"; raw MIME {content['raw_vs_simple_speed']:.2f}x simple content" if content else ""
    return (
        f"SES (moto's server), {run['recipients']:,} messages",
        f"{run['msg_per_s']:,} msg/s at concurrency {run['concurrency']}{raw}",
        "duplicates 0, lost 0",
        _met(run["duplicates"] == 0 and run["lost"] == 0, f"{run['duplicates']} / {run['lost']}"),
    )


def _dkim_rows(dkim: dict) -> list[tuple[str, str, str, str]]:
    cost, send = dkim["cpu_ms_per_signature"], dkim["send"]
    rsa, pure = cost["tierii rsa-2048"], cost["dkimpy rsa-2048 (pure-Python RSA)"]
    ratio = send["ed25519"]["msg_per_s"] / send["mailmerge (unsigned)"]["msg_per_s"]
    return [
        (
            "DKIM CPU per signed message",
            f"RSA-2048 {rsa:.2f} ms / Ed25519 {cost['tierii ed25519']:.2f} ms / both "
            f"{cost['tierii rsa+ed25519']:.2f} ms (dkimpy's own RSA {pure:.1f} ms)",
            "RSA-2048 <= 1.5 ms",
            _met(rsa <= 1.5, f"{rsa:.2f} ms"),
        ),
        (
            f"SMTP msg/s with DKIM, {dkim['messages']:,} messages",
            " / ".join(f"{mode} {figures['msg_per_s']:,}" for mode, figures in send.items()),
            "Ed25519 >= 5x mailmerge",
            _met(ratio >= 5, f"{ratio:.1f}x"),
        ),
    ]


def _met(ok: bool, figure: str) -> str:
    return f"{figure} {'met' if ok else 'MISSED'}"


def chart(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    senders = results["smtp"]["senders"]
    names = list(senders)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(names, [senders[n]["msg_per_s"] for n in names], color=["#2e7d32", "#9e9e9e", "#1565c0"])
    left.set_title("SMTP to smtp-sink: messages per second")
    right.bar(names, [senders[n]["cpu_us_per_msg"] for n in names], color=["#2e7d32", "#9e9e9e", "#1565c0"])
    right.set_title("CPU microseconds per message")
    figure.tight_layout()
    figure.savefig(CHART, dpi=100)


def write_doc(results: dict, table: list[tuple[str, str, str, str]], command: str) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} with `{command}` on {machine()}.",
        "Everything runs on 127.0.0.1; the machine is shared, so compare figures of one run (ratios).",
        "",
        "| measure | figures | target | result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table),
        "",
        "![SMTP throughput and CPU per message](benchmarks.png)",
        "",
        "## How each figure is made",
        "",
        "- **SMTP** (`bench/smtp_throughput.py`): at 3,000 and 20,000 messages, timed from each",
        "  command's start to its exit, and the start of `tierii send` to the first message at an SMTP",
        "  server; the same contacts and ~2 KB template with 5 variables,",
        "  sent by `tierii send` (provider smtp, 4 connections) and by mailmerge 2.3.0 to Postfix's",
        "  `smtp-sink`; Postfix's `smtp-source` sends as many messages of the same size: the C client is",
        "  the most this machine can push through the sink. Medians of several runs; every message is",
        "  counted at the sink. This run has every plugin of this repository installed (editable, as",
        "  `tox -e bench` does): each plugin imports its components at start-up, so its first message",
        "  comes later than with the three distributions the 150 ms target is for (tierii-core,",
        "  tierii-csv, tierii-smtp from wheels: run the script alone in such an environment).",
        "- **MailerSend** (`bench/mailersend_bulk.py`): `tierii send` through the local MailerSend",
        "  (`tierii_mailersend.testing`) with MailerSend's per-minute limits on a shortened minute;",
        "  the minimum is the number of bulk requests divided by the limit.",
        "- **Memory** (`bench/memory.py`): peak resident set size of `tierii send --dry-run`, which",
        "  renders and checks every message and sends nothing (os.wait4).",
        "- **Startup** (`bench/startup.py`): median wall time of `tierii --help` with every plugin of",
        "  this repository installed (as users install them, and in editable mode as the README's first",
        "  command does), against `mailmerge --version`, interleaved.",
        "- **A million sends** (`bench/million.py`, run on its own: it takes minutes): 10,000 then",
        "  1,000,000 real sends to `smtp-sink`: peak RSS of each, and the first and last 100,000",
        "  messages' rates from the journal's timestamps.",
        "- **Kill and resume** (`bench/kill_resume.py`): a campaign to aiosmtpd on 127.0.0.1, which",
        "  counts deliveries per recipient, killed with SIGKILL at random moments, then re-run to the",
        "  end; duplicates among recipients the journal does not report unknown, and lost ones.",
        "- **DKIM** (`bench/dkim_signing.py`): CPU per signed ~2 KB message (TierII's signer: its own",
        "  relaxed canonicalization and header; OpenSSL's RSA signature, libsodium's Ed25519 one), and",
        "  the SMTP campaign sent unsigned,",
        "  signed with RSA-2048, with Ed25519 and with both, with mailmerge (which does not sign) in the",
        "  same run.",
        "- **Journal** (`bench/journal_cost.py`): the whole pipeline in-process with a provider that",
        "  accepts everything at once, with the SQLite journal (two transactions per batch of 100,",
        "  synchronous=FULL) and with a journal that records nothing.",
        "",
        "## Scripts run on their own",
        "",
        "Longer or narrower measures, each a script that prints its figures; the pages that use",
        "them quote what they printed.",
        "",
        *(f"- `bench/{path.name}`: {_summary(path)}" for path in _own_scripts()),
        "",
        "## Raw figures",
        "",
        "```json",
        json.dumps(results, indent=2),
        "```",
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")


def _own_scripts() -> list[Path]:
    """The benchmark scripts this run does not run."""
    return [
        path
        for path in sorted(HERE.glob("*.py"))
        if not path.name.startswith("_") and path.name != "run.py" and path.name not in RAN
    ]


def _summary(path: Path) -> str:
    """The first paragraph of a script's docstring."""
    text = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(text.split("\n\n")[0].split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, to check the scripts work")
    args = parser.parse_args()
    quick = args.quick
    results = {
        "smtp": part(
            "smtp_throughput.py",
            *(["-n", "3000"] if quick else ["-n", "3000", "-n", "20000"]),
            "--repeat",
            "1" if quick else "3",
        ),
        # a minute of 5 s: 10 bulk requests per window (120/min), so the limit, not the CPU, binds
        "mailersend": part("mailersend_bulk.py", "--speedup", "12", *(["-n", "20000"] if quick else [])),
        "memory": part("memory.py", "--large", "100000" if quick else "1000000"),
        "startup": part("startup.py", "--runs", "5" if quick else "21"),
        "journal": part("journal_cost.py", "-n", "5000" if quick else "20000"),
        "kill": part("kill_resume.py", "-n", "5000" if quick else "20000"),
        "ses": part("ses.py", *(["-n", "2000", "--compare", "200"] if quick else [])),
        "dkim": part(
            "dkim_signing.py",
            "-n",
            "2000" if quick else "10000",
            "--repeat",
            "1" if quick else "3",
            "--mailmerge",
        ),
    }
    table = rows(results)
    width = max(len(r[0]) for r in table)
    for measure, figures, target, result in table:
        print(f"{measure:<{width}}  {figures}")
        print(f"{'':<{width}}  target: {target or '-'}; {result}")
    chart(results)
    write_doc(results, table, "python bench/run.py" + (" --quick" if quick else ""))
    print(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
