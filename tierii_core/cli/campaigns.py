"""``tierii report`` and ``tierii approve``: a campaign's record, and its sign-off."""

from __future__ import annotations

from pathlib import Path

import click

from tierii_core.errors import ConfigurationError
from tierii_core.settings import CoreSettings


def _campaign_in(journal, campaign: str | None, where: object) -> str:
    known = journal.campaigns()
    if campaign is None:
        if not known:
            raise ConfigurationError(f"no campaign in the journal at {where}")
        return known[0]
    if campaign not in known:
        raise ConfigurationError(f"no campaign named {campaign!r} (known: {', '.join(known) or 'none'})")
    return campaign


@click.command()
@click.argument("campaign", required=False)
@click.option(
    "--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the HTML report."
)
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the recipients as CSV."
)
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the report as JSON."
)
def report(
    campaign: str | None, html_path: Path | None, csv_path: Path | None, json_path: Path | None
) -> None:
    """A campaign's record (latest campaign by default): identity, counts, chart, every recipient.

    The HTML file is self-contained (no network): open it, print it, archive it.
    """
    from tierii_core.cli.context import settings_reader
    from tierii_core.journal import SqliteJournal
    from tierii_core.report import build, write_csv, write_html, write_json
    from tierii_core.state import state_location

    if not (html_path or csv_path or json_path):
        raise click.UsageError("say where to write the report: --html FILE, --csv FILE and/or --json FILE")
    core = settings_reader().load(CoreSettings)
    where = state_location(core)  # TIERII_STATE_URL, else TIERII_STATE_DIR
    journal = SqliteJournal(where, read_only=True)
    try:
        name = _campaign_in(journal, campaign, where)
        built = build(where, name, journal)
        for path, writer in ((html_path, write_html), (csv_path, write_csv), (json_path, write_json)):
            if path is None:
                continue
            try:
                with path.open("w", encoding="utf-8", newline="") as out:
                    writer(built, out)
            except OSError as exc:
                raise ConfigurationError(f"{path}: cannot write the report: {exc.strerror}") from None
            click.echo(f"wrote {path}")
    finally:
        journal.close()


@click.command()
@click.argument("campaign")
@click.option("--by", "approver", help="Who signs off (default: the login name).")
def approve(campaign: str, approver: str | None) -> None:
    """Sign off CAMPAIGN's content (its templates as they are now, as last proofed).

    With TIERII_REQUIRE_APPROVAL=true a marketing send refuses content nobody approved;
    editing a template afterwards voids the approval.
    """
    import getpass

    from tierii_core.campaign_store import CampaignStore, content_hash, template_files
    from tierii_core.cli.context import settings_reader
    from tierii_core.state import check_state, state_location

    core = settings_reader().load(CoreSettings)
    where = state_location(core)
    store = CampaignStore(check_state(where))
    try:
        identity = store.identity(campaign)
        if identity is None:
            raise ConfigurationError(
                f"no proof or send of campaign {campaign!r} is recorded in {where}: send a proof "
                "first (tierii send ... --proof you@example.com), then approve the campaign it names"
            )
        now = template_files([Path(t.path) for t in identity.templates])
        for before, after in zip(identity.templates, now, strict=True):
            if before.sha256 != after.sha256:
                raise ConfigurationError(
                    f"template {after.path} changed since campaign {campaign} was last proofed or sent: "
                    "send a new proof, then approve it"
                )
        approval = store.approve(campaign, content_hash(now), approver or getpass.getuser())
    finally:
        store.close()
    click.echo(
        f"approved campaign {campaign} by {approval.approved_by} "
        f"(content sha256 {approval.content_hash[:16]}...; editing a template voids it)"
    )


COMMANDS = [report, approve]
