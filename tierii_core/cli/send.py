"""``tierii send``: a campaign, a dry run, proofs, or a scheduled send."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from tierii_core.cli.context import settings_reader
from tierii_core.cli.context import setup as _setup
from tierii_core.cli.message_options import MessageArgs, message_options
from tierii_core.errors import ConfigurationError
from tierii_core.models import Status
from tierii_core.settings import CoreSettings, env_name


@click.command()
@message_options
@click.option("--provider", help="Provider name, or 'auto' (default: TIERII_PROVIDER).")
@click.option("--campaign", help="Campaign name (default: derived from the contacts and the template files).")
@click.option("--dry-run", is_flag=True, help="Render and check every message; send nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N contacts.")
@click.option("--rate", help="Maximum rate, N/s or N/min.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Messages per provider call.")
@click.option("--batch-delay", type=click.FloatRange(min=0), help="Seconds between batches.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Provider calls in flight at once.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), help="Write a JSON report here.")
@click.option(
    "--outbox", type=click.Path(path_type=Path, file_okay=False), help="Maildir for the outbox provider."
)
@click.option("--retry-failed", is_flag=True, help="Try recipients that failed in an earlier run again.")
@click.option("--retry-unknown", is_flag=True, help="Resend recipients whose delivery is unknown.")
@click.option(
    "--proof",
    metavar="ADDR[,ADDR...]",
    help="Send the first messages to these reviewers only, [PROOF] in the subject; nothing is journalled.",
)
@click.option(
    "--proof-count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many recipients' messages a proof sends.",
)
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"', help="Start then (prepared and checked now).")
@click.option(
    "--timezone", "tz_name", metavar="ZONE", help="Time zone of --at and --window (default: local)."
)
@click.option("--window", metavar="HH:MM-HH:MM", help="Send only between these hours; pause outside them.")
def send(
    message: MessageArgs,
    provider: str | None,
    campaign: str | None,
    dry_run: bool,
    limit: int | None,
    rate: str | None,
    batch_size: int | None,
    batch_delay: float | None,
    concurrency: int | None,
    report: Path | None,
    outbox: Path | None,
    retry_failed: bool,
    retry_unknown: bool,
    proof: str | None,
    proof_count: int,
    at: str | None,
    tz_name: str | None,
    window: str | None,
) -> None:
    """Send a campaign: every contact in CONTACTS gets the rendered TEMPLATE."""
    from tierii_core.runner import Campaign

    pm = _setup(message.log_json)
    overrides = {
        **message.settings(),
        env_name(None, "provider"): provider,
        env_name(None, "batch_size"): batch_size,
        env_name(None, "batch_delay"): batch_delay,
        env_name(None, "rate_limit"): rate,
        env_name(None, "concurrency"): concurrency,
        env_name("outbox", "dir"): outbox,
    }
    if report is not None:
        _check_writable(report, "--report")
    reader = settings_reader(overrides)
    core = reader.load(CoreSettings)
    options = message.send_options(
        campaign=campaign,
        dry_run=dry_run,
        limit=limit,
        retry_failed=retry_failed,
        retry_unknown=retry_unknown,
        proof=_proof_addresses(proof, dry_run),
        schedule=_schedule(at, tz_name, window, dry_run or bool(proof)),
    )
    run = Campaign(pm, reader, options, core)
    if options.proof:
        _send_proofs(run, proof_count)
    run.prepare(need_provider=not dry_run)
    click.echo(
        f"campaign {run.campaign_id}: provider {','.join(run.provider_names) or '(dry run)'}", err=True
    )
    if options.schedule is not None:
        click.echo(_schedule_line(options.schedule), err=True)
    summary = run.run()
    if report is not None:
        try:
            report.write_text(json.dumps(summary.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:  # checked at the start; the disk may have filled since
            click.echo(f"error: --report {report}: cannot write it: {exc.strerror}", err=True)
    sys.exit(int(summary.exit_code))


def _check_writable(path: Path, option: str) -> None:
    """A file the command will write at the end: its directory must exist and be writable now,
    before anything is sent."""
    directory = path.parent
    if not directory.is_dir():
        raise ConfigurationError(f"{option} {path}: the directory {directory} does not exist")
    if path.is_dir():
        raise ConfigurationError(f"{option} {path}: is a directory; name a file")
    if not os.access(path if path.exists() else directory, os.W_OK):
        raise ConfigurationError(f"{option} {path}: not writable")


def _proof_addresses(proof: str | None, dry_run: bool) -> tuple[str, ...]:
    if proof is None:
        return ()
    from tierii_core.proofs import parse_proof_addresses

    if dry_run:
        raise click.UsageError("--proof sends proofs: it cannot go with --dry-run")
    return parse_proof_addresses(proof)


def _schedule(at: str | None, tz_name: str | None, window: str | None, now_only: bool) -> Any:
    if at is None and window is None:
        if tz_name is not None:
            raise click.UsageError("--timezone goes with --at or --window")
        return None
    if now_only:
        raise click.UsageError("--at and --window schedule a send: not with --dry-run or --proof")
    from datetime import datetime, timezone

    from tierii_core.schedule import Schedule, Window, parse_at, zone

    tz = zone(tz_name)
    moment = parse_at(at, tz) if at is not None else None
    if moment is not None and moment <= datetime.now(timezone.utc):
        raise ConfigurationError(
            f"--at {at!r}: that is in the past in {tz} (now {datetime.now(tz):%Y-%m-%d %H:%M})"
        )
    return Schedule(moment, Window.parse(window, tz) if window is not None else None)


def _schedule_line(schedule: Any) -> str:
    parts = []
    if schedule.at is not None:
        parts.append(f"starts at {schedule.at:%Y-%m-%d %H:%M:%S %Z} (Ctrl-C cancels)")
    if schedule.window is not None:
        parts.append(f"sends only within {schedule.window}")
    return "schedule: " + "; ".join(parts)


def _send_proofs(run: Any, count: int) -> None:
    from tierii_core.proofs import send_proofs

    run.prepare()
    click.echo(f"campaign {run.campaign_id}: proof through {run.provider_names[0]}", err=True)
    result = send_proofs(run, run.options.proof, count)
    for line in result.skipped:
        click.echo(f"not proofed (no message for them): {line}")
    failed = [o for o in result.outcomes if o.status is not Status.SENT]
    sent = len(result.outcomes) - len(failed)
    click.echo(
        f"proof: {sent} sent ({len(result.recipients)} recipients' messages to {len(run.options.proof)} "
        f"reviewers: {', '.join(run.options.proof)}); the journal is untouched"
    )
    click.echo(f"messages of: {', '.join(result.recipients)}")
    for outcome in failed:
        click.echo(f"  failed {outcome.email}: {outcome.reason}")
    click.echo(f"sign-off: tierii approve {run.campaign_id} --by NAME")
    sys.exit(1 if failed else 0)


#: the commands this module adds to ``tierii``
COMMANDS = [send]
