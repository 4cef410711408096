"""Per-recipient cost of tierii-cannabis's store variables (the ``tierii_template_variables`` hook).

The hook runs once per run; what each recipient pays is one ``ContactVariables.variables`` call
(a store lookup and a cached dictionary) and the store lookups of the rules. The same dry run
(render and check every message, nothing sent) runs in-process four ways on one contacts file,
and the script prints the time per recipient of each and its ratio to the first:

- core: the core's marketing rules, no cannabis plugin loaded;
- one store: tierii-cannabis loaded with TIERII_CANNABIS_LICENSE_NUMBER, --rules cannabis-ca;
- chain: a stores file of 50 California stores, --rules cannabis-ca;
- chain, auto: the same stores, --rules cannabis-auto.

    python bench/store_variables.py [-n 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ENV

from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader

STORES = 50
TEMPLATE = """\
Subject: {{first_name}}, your {{favorite}} restock is in

Hi {{first_name}}, {{favorite}} is back on our shelves this week.

Advertisement. Licence {{license_number}}.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""


def write_files(directory: Path, count: int) -> tuple[Path, Path, Path]:
    stores = directory / "stores.csv"
    rows = ["id,license_number,license_type,state,from,address"]
    rows += [
        f's{i},C10-{i:07d}-LIC,retail,CA,Green Leaf {i} <s{i}@greenleaf.example>,"{i} Main St, Sacramento"'
        for i in range(STORES)
    ]
    stores.write_text("\n".join(rows) + "\n", encoding="utf-8")
    contacts = directory / "contacts.csv"
    with contacts.open("w", encoding="utf-8") as handle:
        handle.write("email,first_name,favorite,state,birthdate,consent,store\n")
        handle.writelines(
            f"user{i}@example{i % 97}.com,First{i},Strain {i % 30},CA,1980-01-01,yes,s{i % STORES}\n"
            for i in range(count)
        )
    template = directory / "restock.mustache"
    template.write_text(TEMPLATE, encoding="utf-8")
    return stores, contacts, template


def per_recipient(contacts: Path, template: Path, settings: dict[str, str], plugins: bool) -> float:
    """Seconds per recipient of rendering and checking every message (the best of three runs)."""
    best = float("inf")
    for _ in range(3):
        pm = make_plugin_manager(load_entry_points=plugins)
        options = SendOptions(str(contacts), template, dry_run=True)
        campaign = Campaign(pm, SettingsReader(settings), options)
        campaign.prepare(need_provider=False)
        started = time.perf_counter()
        done = sum(1 for decision in campaign.preview(10**9) if decision.message is not None)
        assert done == count_of(contacts), f"{done} messages rendered: the settings are wrong"
        best = min(best, (time.perf_counter() - started) / done)
    return best


def count_of(contacts: Path) -> int:
    with contacts.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="contacts")
    count = parser.parse_args().n
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        stores, contacts, template = write_files(directory, count)
        os.chdir(directory)
        for name in [n for n in os.environ if n.startswith("TIERII_")]:
            del os.environ[name]
        os.environ["TIERII_LOAD_PLUGINS"] = "tierii-csv,tierii-cannabis"
        base = {
            **ENV,
            "TIERII_STATE_DIR": str(directory / "state"),
            "TIERII_FROM_EMAIL": "hi@greenleaf.example",
        }
        single = {**base, "TIERII_RULES": "cannabis-ca"}
        runs = {}
        with contextlib.redirect_stdout(io.StringIO()):
            os.environ["TIERII_LOAD_PLUGINS"] = "tierii-csv"
            literal = directory / "literal.mustache"  # no plugin supplies {{license_number}} here
            literal.write_text(TEMPLATE.replace("{{license_number}}", "C10-0000001-LIC"), encoding="utf-8")
            runs["core"] = per_recipient(contacts, literal, base, True)
            # the plugin reads its own settings from the environment, as `tierii` does
            os.environ["TIERII_LOAD_PLUGINS"] = "tierii-csv,tierii-cannabis"
            os.environ["TIERII_CANNABIS_LICENSE_NUMBER"] = "C10-0000001-LIC"
            runs["one store"] = per_recipient(contacts, template, single, True)
            del os.environ["TIERII_CANNABIS_LICENSE_NUMBER"]
            os.environ["TIERII_CANNABIS_STORES_FILE"] = str(stores)
            chain = {**base, "TIERII_RULES": "cannabis-ca"}
            runs["chain"] = per_recipient(contacts, template, chain, True)
            runs["chain, auto"] = per_recipient(
                contacts, template, {**chain, "TIERII_RULES": "cannabis-auto"}, True
            )
    first = runs["core"]
    result = {
        name: {"us_per_recipient": round(seconds * 1e6, 1), "ratio": round(seconds / first, 2)}
        for name, seconds in runs.items()
    }
    for name, figures in result.items():
        print(
            f"{name:12} {figures['us_per_recipient']:8.1f} us/recipient  {figures['ratio']:.2f}x",
            file=sys.stderr,
        )
    print(json.dumps({"contacts": count, "stores": STORES, "runs": result}))


if __name__ == "__main__":
    main()
