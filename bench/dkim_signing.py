"""DKIM signing cost: CPU per signature, and `tierii send` msg/s to smtp-sink with and without it.

Two parts, one run:

1. CPU per signature (``time.process_time``), on one ~2 KB message: TierII's signer (dkimpy's
   canonicalization and header, OpenSSL's signature through ``cryptography``) with RSA-2048,
   Ed25519 and both; dkimpy's own ``dkim.sign`` (pure-Python RSA) for comparison; and the bare
   OpenSSL signature of a digest, the floor.
2. Throughput: the SMTP benchmark's campaign (bench/smtp_throughput.py: N personalised ~2 KB
   messages, 4 connections, smtp-sink on 127.0.0.1) sent unsigned, signed with RSA-2048,
   with Ed25519, and dual-signed; optionally mailmerge 2.3.0 (which does not sign) alongside.

    apt-get install postfix openssl          # smtp-sink; openssl genpkey makes the keys
    python bench/dkim_signing.py [-n 5000] [--repeat 3] [--mailmerge] [--json]

A script, not a test: it prints figures and asserts nothing about time. Ratios come from one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smtp_throughput import mailmerge_run, tierii_run, write_inputs

from tierii_core.dkim import DkimSigner, load_key
from tierii_core.models import Address, Contact, Message
from tierii_smtp.testing import SmtpSinkProcess

DOMAIN = "greenleaf.example"
KEYS = {
    "rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ed25519": ["-algorithm", "ED25519"],
}
MODES = {"unsigned": (), "rsa-2048": ("rsa",), "ed25519": ("ed25519",), "rsa+ed25519": ("rsa", "ed25519")}


def make_keys(root: Path) -> dict[str, Path]:
    """The documented commands (docs/authentication.md)."""
    files = {}
    for name, options in KEYS.items():
        path = root / f"{name}.pem"
        subprocess.run(["openssl", "genpkey", *options, "-out", str(path)], check=True, capture_output=True)
        files[name] = path
    return files


def sample_message() -> bytes:
    text = "\n".join(
        f"Item {i}: our selection is back in stock this week, new arrivals daily." for i in range(28)
    )
    return Message(
        contact=Contact("ana@example.com"),
        sender=Address(f"hello@{DOMAIN}", "Green Leaf Shop"),
        to=Address("ana@example.com", "Ana Lastname"),
        subject="Ana, your Blue Dream is ready in Sacramento",
        text=text,
        message_id=f"<1@{DOMAIN}>",
        date=datetime.now(timezone.utc),
        headers=(
            ("List-Unsubscribe", "<https://shop.example/unsubscribe?t=0123456789abcdef>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    ).as_bytes()


def cpu_ms(function, rounds: int) -> float:
    function()  # warm up (imports, caches)
    start = time.process_time()
    for _ in range(rounds):
        function()
    return (time.process_time() - start) / rounds * 1000


def signature_costs(files: dict[str, Path], rounds: int) -> dict[str, float]:
    import dkim

    keys = {name: load_key(path.read_bytes(), f"{name}2026", name) for name, path in files.items()}
    data = sample_message()
    costs = {}
    for mode, names in MODES.items():
        if names:
            signer = DkimSigner(DOMAIN, [keys[n] for n in names])
            costs[f"tierii {mode}"] = cpu_ms(lambda s=signer: s.sign(data), rounds)
    rsa_pem = keys["rsa"].dkimpy_private_key()
    costs["dkimpy rsa-2048 (pure-Python RSA)"] = cpu_ms(
        lambda: dkim.sign(data, b"rsa2026", DOMAIN.encode(), rsa_pem), max(rounds // 10, 20)
    )
    digest = b"\x01" * 32
    costs["OpenSSL rsa-2048 signature alone"] = cpu_ms(lambda: keys["rsa"].sign_digest(digest), rounds)
    costs["OpenSSL ed25519 signature alone"] = cpu_ms(lambda: keys["ed25519"].sign_digest(digest), rounds)
    return costs


def throughput(files: dict[str, Path], args: argparse.Namespace, root: Path) -> dict[str, dict[str, float]]:
    write_inputs(root, args.messages)
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    if args.mailmerge:
        results["mailmerge (unsigned)"] = []
    with SmtpSinkProcess(dump=False) as sink:
        for attempt in range(args.repeat):
            for mode, names in MODES.items():
                env = {}
                if names:
                    env = {
                        "TIERII_DKIM_DOMAIN": DOMAIN,
                        "TIERII_DKIM_SELECTOR": ",".join(f"{n}2026" for n in names),
                        "TIERII_DKIM_PRIVATE_KEY_FILE": ",".join(str(files[n]) for n in names),
                    }
                run = tierii_run(root, sink, args.messages, args.connections, attempt, env, name=mode)
                results[mode].append(run)
            if args.mailmerge:
                results["mailmerge (unsigned)"].append(
                    mailmerge_run(root, sink, args.messages, args.mailmerge, attempt)
                )
    return {
        mode: {
            "msg_per_s": round(args.messages / statistics.median(w for w, _ in runs)),
            "cpu_us_per_msg": round(statistics.median(c for _, c in runs) / args.messages * 1e6),
        }
        for mode, runs in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode; the median is shown")
    parser.add_argument("--connections", type=int, default=4, help="TIERII_SMTP_CONNECTIONS")
    parser.add_argument("--rounds", type=int, default=2000, help="signatures per CPU figure")
    parser.add_argument(
        "--mailmerge", nargs="?", const="", default=None, help="also run mailmerge 2.3.0 (optional PATH)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.mailmerge is not None:
        from _mailmerge import mailmerge_command

        args.mailmerge = mailmerge_command(args.mailmerge or None)
    with tempfile.TemporaryDirectory(prefix="tierii-dkim-bench-") as scratch:
        root = Path(scratch)
        files = make_keys(root)
        costs = signature_costs(files, args.rounds)
        rates = throughput(files, args, root)
    if args.json:
        print(json.dumps({"messages": args.messages, "cpu_ms_per_signature": costs, "send": rates}))
        return
    print(f"CPU per signed message (median of {args.rounds} signatures, one ~2 KB message):")
    for name, ms in costs.items():
        print(f"  {name:<36} {ms:7.3f} ms")
    print(
        f"\n`tierii send` of {args.messages} messages to smtp-sink, {args.connections} connections, "
        f"median of {args.repeat} runs:"
    )
    print(f"  {'mode':<22} {'msg/s':>7} {'CPU µs/msg':>11} {'vs unsigned':>12}")
    base = rates["unsigned"]["msg_per_s"]
    for mode, figures in rates.items():
        print(
            f"  {mode:<22} {figures['msg_per_s']:>7} {figures['cpu_us_per_msg']:>11} "
            f"{figures['msg_per_s'] / base:>11.0%}"
        )
    if args.mailmerge is not None:
        ratio = rates["ed25519"]["msg_per_s"] / rates["mailmerge (unsigned)"]["msg_per_s"]
        print(f"tierii with Ed25519 sends {ratio:.1f}x as many messages per second as mailmerge (unsigned)")


if __name__ == "__main__":
    main()
