"""Journal cost: msg/s of the whole pipeline with the SQLite journal vs without it.

The same campaign runs in-process three ways: a provider that accepts every message without
any I/O with the journal (two transactions per batch, synchronous=FULL) and with a journal
that records nothing, then the outbox provider (a Maildir on disk) with the journal, for
scale. Batches of 100, the provider's default.

    python bench/journal_cost.py [-n 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV, write_contacts, write_template

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider
from tierii_core.models import Outcome, Status
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader


class Accepting(DeliveryProvider):
    """Accepts every message at once: no I/O, so what is left is the pipeline itself."""

    name = "accepting"
    max_batch = 100
    signs_for_sender = True  # as an API provider does: the authenticated rule has nothing to say

    def send(self, messages):
        return [Outcome.sent(m, self.name) for m in messages]


class NoJournal:
    """A journal that remembers nothing (what running without one would cost)."""

    def open_campaign(self, campaign, source, template, providers):
        return 0

    def entries(self, campaign, keys):
        return {}

    def claim(self, campaign, items):
        pass

    def record(self, campaign, outcomes):
        pass

    def counts(self, campaign):
        return {s.value: 0 for s in Status}

    def recipients(self, campaign, state=None):
        return iter(())

    def campaigns(self):
        return []

    def close(self):
        pass


class Extra:
    @hookimpl
    def tierii_delivery_providers(self):
        return [Accepting]


def run(workdir: Path, contacts: Path, template: Path, provider: str, journal: bool) -> float:
    """msg/s of one campaign run."""
    pm = make_plugin_manager()
    pm.register(Extra())
    state = workdir / f"state-{provider}-{journal}"
    reader = SettingsReader(
        {
            **ENV,
            "TIERII_PROVIDER": provider,
            "TIERII_STATE_DIR": str(state),
            "TIERII_OUTBOX_DIR": str(workdir / "outbox"),
        }
    )
    campaign = Campaign(pm, reader, SendOptions(str(contacts), template, campaign=f"{provider}-{journal}"))
    campaign.prepare()
    if not journal:
        campaign.journal.close()
        campaign.journal = NoJournal()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary
        summary = campaign.run()
    assert summary.sent == summary.attempted and summary.failed == 0, summary
    return summary.sent / summary.duration


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("TIERII_")]:
        del os.environ[name]
    import logging

    from tierii_core.logs import configure_logging

    configure_logging(json=True, level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="tierii-journal-") as tmp:
        workdir = Path(tmp)
        contacts = write_contacts(workdir / "contacts.csv", args.messages)
        template = write_template(workdir)
        with_journal = run(workdir, contacts, template, "accepting", journal=True)
        without = run(workdir, contacts, template, "accepting", journal=False)
        outbox = run(workdir, contacts, template, "outbox", journal=True)
    result = {
        "messages": args.messages,
        "with_journal_per_s": round(with_journal),
        "without_journal_per_s": round(without),
        "journal_share": round(1 - with_journal / without, 3),
        "outbox_with_journal_per_s": round(outbox),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.messages:,} messages, batches of 100")
        print(f"  pipeline with the journal     {with_journal:8.0f} msg/s")
        print(f"  pipeline without a journal    {without:8.0f} msg/s")
        print(f"  the journal costs {result['journal_share']:.1%} of the pipeline's throughput")
        print(f"  outbox (Maildir) with journal {outbox:8.0f} msg/s")
    return result


if __name__ == "__main__":
    main()
