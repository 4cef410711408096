"""DKIM signing cost: CPU per signature, and `tierii send` to smtp-sink with and without it.

Two parts, one run:

1. CPU per signed message (``time.process_time``), over 200 different ~2 KB messages:
   TierII's signer (its own relaxed canonicalization and header, OpenSSL's signature through
   ``cryptography``; Ed25519's through libsodium, see tierii_core/dkim_ed25519.py) with
   RSA-2048, Ed25519 and both; dkimpy's own ``dkim.sign`` (its canonicalization and
   pure-Python RSA) for comparison; the bare signature of a digest, the floor.
2. Throughput: the SMTP benchmark's campaign (bench/smtp_throughput.py: N personalised ~2 KB
   messages, 4 connections, smtp-sink on 127.0.0.1) sent unsigned, signed with RSA-2048,
   with Ed25519, and dual-signed; optionally mailmerge 2.3.0 (which does not sign) alongside.
   Wall clock from the command's start to its exit, for each N given.

    apt-get install postfix openssl          # smtp-sink; openssl genpkey makes the keys
    python bench/dkim_signing.py [-n 3000 20000] [--repeat 5] [--mailmerge] [--json]

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


def sample_messages(count: int = 200) -> list[bytes]:
    """Different messages, as a campaign's are: recipient, subject, Message-ID, unsubscribe
    link and a line of the body change."""
    text = "\n".join(
        f"Item {i}: our selection is back in stock this week, new arrivals daily." for i in range(28)
    )
    return [
        Message(
            contact=Contact(f"customer{n}@example.com"),
            sender=Address(f"hello@{DOMAIN}", "Green Leaf Shop"),
            to=Address(f"customer{n}@example.com", f"Ana Lastname{n}"),
            subject=f"Ana, your Blue Dream is ready in Sacramento (order {n})",
            text=f"Your order code is GL-{n:07d}.\n{text}",
            message_id=f"<{n}@{DOMAIN}>",
            date=datetime.now(timezone.utc),
            headers=(
                ("List-Unsubscribe", f"<https://shop.example/unsubscribe?t={n:016x}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        ).as_bytes()
        for n in range(count)
    ]


def cpu_ms(function, messages: list[bytes], rounds: int) -> float:
    """CPU milliseconds per call of ``function(message)``, over ``rounds`` calls."""
    function(messages[0])  # warm up (imports, caches)
    start = time.process_time()
    for n in range(rounds):
        function(messages[n % len(messages)])
    return (time.process_time() - start) / rounds * 1000


def signature_costs(files: dict[str, Path], rounds: int) -> dict[str, float]:
    import dkim

    keys = {name: load_key(path.read_bytes(), f"{name}2026", name) for name, path in files.items()}
    messages = sample_messages()
    costs = {}
    for mode, names in MODES.items():
        if names:
            signer = DkimSigner(DOMAIN, [keys[n] for n in names])
            costs[f"tierii {mode}"] = cpu_ms(signer.sign, messages, rounds)
    rsa_pem = keys["rsa"].dkimpy_private_key()
    costs["dkimpy rsa-2048 (pure-Python RSA)"] = cpu_ms(
        lambda m: dkim.sign(m, b"rsa2026", DOMAIN.encode(), rsa_pem, canonicalize=(b"relaxed", b"relaxed")),
        messages,
        max(rounds // 10, 20),
    )
    ed_seed = keys["ed25519"].dkimpy_private_key()
    costs["dkimpy ed25519 (its canonicalization)"] = cpu_ms(
        lambda m: dkim.sign(
            m,
            b"ed2026",
            DOMAIN.encode(),
            ed_seed,
            signature_algorithm=b"ed25519-sha256",
            canonicalize=(b"relaxed", b"relaxed"),
        ),
        messages,
        rounds,
    )
    digest = [b"\x01" * 32]
    costs["OpenSSL rsa-2048 signature alone"] = cpu_ms(keys["rsa"].sign_digest, digest, rounds)
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    openssl_ed25519 = load_pem_private_key(files["ed25519"].read_bytes(), password=None)
    costs["OpenSSL ed25519 signature alone"] = cpu_ms(openssl_ed25519.sign, digest, rounds)
    costs["libsodium ed25519 (TierII's), alone"] = cpu_ms(keys["ed25519"].sign_digest, digest, rounds)
    return costs


MAILMERGE = "mailmerge (unsigned)"


def throughput(files: dict[str, Path], args: argparse.Namespace, count: int, root: Path) -> dict[str, dict]:
    """Each mode's median over ``args.repeat`` runs of ``count`` messages, the modes interleaved."""
    write_inputs(root, count)
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    if args.mailmerge:
        results[MAILMERGE] = []
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
                name = f"{mode}-{count}"
                results[mode].append(tierii_run(root, sink, count, args.connections, attempt, env, name=name))
            if args.mailmerge:
                results[MAILMERGE].append(mailmerge_run(root, sink, count, args.mailmerge, attempt))
    figures = {}
    for mode, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        figures[mode] = {
            "seconds": round(wall, 2),
            "msg_per_s": round(count / wall),
            "cpu_us_per_msg": round(statistics.median(c for _, c in runs) / count * 1e6),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, nargs="+", default=[3000, 20000])
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
        by_size = {count: throughput(files, args, count, root) for count in args.messages}
    if args.json:
        last = args.messages[-1]
        print(
            json.dumps(
                {
                    "messages": last,
                    "cpu_ms_per_signature": costs,
                    "send": by_size[last],
                    "by_size": {str(count): rates for count, rates in by_size.items()},
                }
            )
        )
        return
    print(f"CPU per signed message ({args.rounds} signatures of 200 different ~2 KB messages):")
    for name, ms in costs.items():
        print(f"  {name:<40} {ms:7.3f} ms")
    for count, rates in by_size.items():
        print(
            f"\n`tierii send` of {count:,} messages to smtp-sink, {args.connections} connections, wall clock "
            f"from start to exit, median of {args.repeat} runs:"
        )
        base = rates.get(MAILMERGE)
        header = f"  {'mode':<22} {'seconds':>8} {'msg/s':>7} {'CPU µs/msg':>11}"
        print(header + (f" {'vs mailmerge':>13}" if base else ""))
        for mode, figures in rates.items():
            seconds, rate, cpu = figures["seconds"], figures["msg_per_s"], figures["cpu_us_per_msg"]
            line = f"  {mode:<22} {seconds:>8.2f} {rate:>7} {cpu:>11}"
            if base:
                line += f" {base['seconds'] / figures['seconds']:>12.1f}x"
            print(line)
        if base:
            ratio = base["seconds"] / rates["ed25519"]["seconds"]
            print(
                f"  tierii with Ed25519 sends {count:,} messages {ratio:.1f}x as fast as mailmerge (unsigned)"
            )


if __name__ == "__main__":
    main()
