"""``tierii status``: what the journal knows of a campaign."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from tierii_core.cli.context import settings_reader
from tierii_core.errors import ConfigurationError
from tierii_core.models import JOURNAL_STATES, Status
from tierii_core.settings import CoreSettings


@click.command()
@click.argument("campaign", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--list",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in JOURNAL_STATES] + ["all"]),
    help="Also list the recipients in this state (repeatable; 'all' for every state).",
)
def status(campaign: str | None, as_json: bool, states: tuple[str, ...]) -> None:
    """What the journal knows: sent, failed, excluded, unknown, pending (latest campaign by default)."""
    import sqlite3

    from tierii_core.journal import SqliteJournal, reason_group
    from tierii_core.state import describe, state_location

    core = settings_reader().load(CoreSettings)
    where = state_location(core)  # TIERII_STATE_URL, else TIERII_STATE_DIR
    journal = SqliteJournal(where, read_only=True)
    try:
        known = journal.campaigns()
        if campaign is None:
            if not known:
                raise ConfigurationError(f"no campaign in the journal at {describe(where)}")
            campaign = known[0]
        elif campaign not in known:
            raise ConfigurationError(f"no campaign named {campaign!r} (known: {', '.join(known) or 'none'})")
        wanted = list(JOURNAL_STATES) if "all" in states else [Status(s) for s in states]
        report: dict[str, Any] = {"campaign": campaign, "counts": journal.counts(campaign)}
        report["excluded_by_reason"] = dict(
            Counter(reason_group(r.last_error, r.code) for r in journal.recipients(campaign, Status.EXCLUDED))
        )
        feedback = _feedback(where, campaign, report["counts"][Status.SENT.value])
        report["feedback"] = feedback.as_dict()
        if wanted:
            report["recipients"] = {
                state.value: [
                    {
                        "email": r.email,
                        "origin": r.origin,
                        "provider": r.provider,
                        "provider_message_id": r.provider_message_id,
                        "attempts": r.attempts,
                        "reason": r.last_error,
                    }
                    for r in journal.recipients(campaign, state)
                ]
                for state in wanted
            }
    except sqlite3.Error as exc:
        from tierii_core.state import explain

        raise ConfigurationError(explain(Path(describe(where)), exc)) from None
    finally:
        journal.close()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"campaign {campaign}")
    for state, count in report["counts"].items():
        click.echo(f"  {state}: {count}")
        if state == Status.EXCLUDED.value:
            for reason, number in sorted(report["excluded_by_reason"].items()):
                click.echo(f"    {reason}: {number}")
    _echo_feedback(feedback)
    for state, rows in report.get("recipients", {}).items():
        for row in rows:
            detail = row["reason"] or row["provider_message_id"] or ""
            click.echo(f"  {state} {row['email']} ({row['origin']}) {detail}".rstrip())
    if len(known) > 1:
        click.echo(f"other campaigns: {', '.join(c for c in known if c != campaign)}")
    click.echo(f"the campaign's record: tierii report {campaign} --html report.html")


def _feedback(where: Any, campaign: str, sent: int) -> Any:
    """Bounces and complaints noted for the campaign (by tierii-feedback; zeros without it)."""
    from tierii_core.feedback_store import FeedbackStore

    store = FeedbackStore(where, read_only=True)
    try:
        return store.summary(campaign, sent)
    finally:
        store.close()


def _echo_feedback(feedback: Any) -> None:
    from tierii_core.feedback_store import rate_line

    click.echo(
        f"  delivered: {feedback.delivered}  hard bounces: {feedback.hard_bounces}  "
        f"soft bounces: {feedback.soft_bounces}  complaints: {feedback.complaints}  "
        f"(bounce rate {feedback.bounce_rate:.2%}, complaint rate {feedback.complaint_rate:.2%})"
    )
    line = rate_line(feedback)
    if line:
        click.echo(line)


#: the commands this module adds to ``tierii``
COMMANDS = [status]
