"""Peak memory of `tierii send --dry-run` from a database: 10,000 vs 200,000 rows.

Streaming keeps memory flat: the peak resident set size of the whole `tierii` process should
barely change between the two sizes. SQLite always; PostgreSQL when TIERII_TEST_POSTGRES_URL
is set (eval "$(bash .ci/postgres)"). Prints figures; asserts nothing.

    python bench/sql_memory.py [--rows 10000,200000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert, text
from sqlalchemy.engine import make_url

TEMPLATE = (
    "Subject: Hello {{first_name}}\nFrom: Shop <shop@example.com>\n\nHi {{first_name}}, {{city}} says hi.\n"
)
CHUNK = 10_000


def fill(engine, name: str, rows: int, schema: str | None = None) -> None:
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("email", Text),
        Column("first_name", Text),
        Column("city", Text),
        schema=schema,
    )
    with engine.begin() as connection:
        table.create(connection)
        for start in range(0, rows, CHUNK):
            connection.execute(
                insert(table),
                [
                    {"email": f"contact{i}@example.com", "first_name": f"Contact {i}", "city": "Springfield"}
                    for i in range(start, min(start + CHUNK, rows))
                ],
            )


def dry_run(location: str, workdir: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, the summary's first line) of one `tierii send --dry-run`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
    command = [
        sys.executable,
        "-m",
        "tierii_core.cli",
        "send",
        location,
        "-t",
        "t.mustache",
        "--dry-run",
        "--transactional",
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tierii failed on {location}:\n{output}")
    return usage.ru_maxrss / 1024, seconds, output.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,200000", help="comma-separated row counts")
    sizes = [int(n) for n in parser.parse_args().rows.split(",")]
    postgres = os.environ.get("TIERII_TEST_POSTGRES_URL")
    print(f"{'database':<11} {'rows':>8} {'peak RSS':>10} {'seconds':>8} {'rows/s':>8}  summary")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "t.mustache").write_text(TEMPLATE, encoding="utf-8")
        backends = [("sqlite", None)] + ([("postgresql", postgres)] if postgres else [])
        for backend, url in backends:
            for rows in sizes:
                name = f"contacts_{rows}"
                if url is None:
                    engine = create_engine(f"sqlite:///{work / 'crm.db'}")
                    fill(engine, name, rows)
                    location, schema = f"sqlite:///{work / 'crm.db'}?table={name}", None
                else:
                    engine = create_engine(url)
                    schema = f"bench_{secrets.token_hex(4)}"
                    with engine.begin() as connection:
                        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                    fill(engine, name, rows, schema)
                    location = (
                        make_url(url)
                        .update_query_dict({"table": f"{schema}.{name}"})
                        .render_as_string(hide_password=False)
                    )
                try:
                    peak, seconds, summary = dry_run(location, work)
                finally:
                    if schema:
                        with engine.begin() as connection:
                            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    engine.dispose()
                print(
                    f"{backend:<11} {rows:>8} {peak:>8.1f}MB {seconds:>8.1f} "
                    f"{rows / seconds:>8.0f}  {summary}"
                )
    if not postgres:
        print('PostgreSQL skipped: set TIERII_TEST_POSTGRES_URL (eval "$(bash .ci/postgres)")')


if __name__ == "__main__":
    main()
