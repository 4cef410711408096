"""State store cost: msg/s of the whole pipeline with the SQLite store vs the PostgreSQL one.

The same campaign runs in-process, through a provider that accepts every message without any
I/O (so what is left is the pipeline and its journal: a claim and an outcome per batch), once
per store. PostgreSQL is a server of the bench's own (initdb/pg_ctl on 127.0.0.1, fsync on as
in production), or ``--url postgresql://...``. Batches of 100, the provider's default; both
runs in one process, so the ratio is what to read (the machine is noisy).

    python bench/state_store.py [-n 20000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, write_contacts, write_template
from journal_cost import Extra

from tierii_core.logs import configure_logging
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader


def run(workdir: Path, contacts: Path, template: Path, store: dict[str, str], name: str) -> float:
    """msg/s of one campaign run on the store the settings name."""
    pm = make_plugin_manager()
    pm.register(Extra())
    reader = SettingsReader({**ENV, "TIERII_PROVIDER": "accepting", **store})
    campaign = Campaign(pm, reader, SendOptions(str(contacts), template, campaign=name))
    campaign.prepare()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary
        summary = campaign.run()
    assert summary.sent == summary.attempted and summary.failed == 0, summary
    return summary.sent / summary.duration


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("--url", help="a PostgreSQL database to use instead of a private server")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("TIERII_")]:
        del os.environ[name]
    configure_logging(json=True, level=logging.ERROR)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tierii-store-")))
        url = args.url
        if url is None:
            from tierii_core.testing.postgres import PrivateServer

            server = PrivateServer(fsync=True)
            stack.enter_context(server)
            url = server.url
        contacts = write_contacts(workdir / "contacts.csv", args.messages)
        template = write_template(workdir)
        sqlite = run(
            workdir, contacts, template, {"TIERII_STATE_DIR": str(workdir / "state")}, "bench-sqlite"
        )
        postgres = run(workdir, contacts, template, {"TIERII_STATE_URL": url}, f"bench-pg-{os.getpid()}")
    result = {
        "messages": args.messages,
        "sqlite_per_s": round(sqlite),
        "postgresql_per_s": round(postgres),
        "postgresql_over_sqlite": round(postgres / sqlite, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.messages:,} messages, batches of 100, a provider without I/O")
        print(f"  SQLite state store       {sqlite:8.0f} msg/s")
        ratio = result["postgresql_over_sqlite"]
        print(f"  PostgreSQL state store   {postgres:8.0f} msg/s  ({ratio:.2f}x SQLite)")
    return result


if __name__ == "__main__":
    main()
