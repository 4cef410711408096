"""``tierii feedback process|watch``: the commands this plugin adds to ``tierii``.

Every ``tierii`` invocation builds these, so this module imports nothing but click; the
parsers (flufl.bounce) and the IMAP client are imported by the command that runs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click


@click.group()
def feedback() -> None:
    """Bounces, complaints and mailed unsubscribes: read them, suppress (tierii-feedback)."""


@feedback.command("process")
@click.option(
    "--maildir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Read the reports in this Maildir.",
)
@click.option("--imap", "use_imap", is_flag=True, help="Read TIERII_IMAP_FOLDER on TIERII_IMAP_HOST.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary (and problems).")
def process(maildir: Path | None, use_imap: bool, quiet: bool) -> None:
    """Process every report once: suppress hard bounces, complaints, mailed unsubscribes and
    addresses past the soft-bounce limit; set processed reports aside.

    \b
    Safe to run again, and after a run that was killed: each report counts once.
    Mail that is not a report is left where it is.
    """
    if (maildir is None) == (not use_imap):
        raise click.UsageError("give exactly one of --maildir PATH or --imap")
    context = _Context(quiet)
    try:
        if maildir is not None:
            from tierii_feedback.maildir import process_maildir

            process_maildir(maildir, context.processor, context.settings.processed_folder, context.report)
        else:
            from tierii_feedback import imap

            settings = context.imap_settings()
            with imap.connect(settings) as client:
                imap.select(client, settings)
                folder = context.settings.processed_folder
                imap.process_folder(client, context.processor, folder, context.report, where=settings.folder)
    finally:
        context.close()
    context.summary()


@feedback.command("watch")
@click.option("--quiet", "-q", is_flag=True, help="Print only what changes something (and problems).")
@click.option("--verbose", "-v", is_flag=True, help="Also say each time it starts waiting for new mail.")
def watch(quiet: bool, verbose: bool) -> None:
    """Keep reading TIERII_IMAP_FOLDER: process what is there, then wait for new mail (IMAP IDLE,
    or a poll every TIERII_IMAP_IDLE_SECONDS without it). Ctrl-C or SIGTERM stops it cleanly."""
    import signal

    from tierii_feedback import imap

    context = _Context(quiet)
    stopper = imap.Stopper()
    previous = {s: signal.signal(s, stopper) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        imap.watch(
            context.imap_settings(),
            context.processor,
            context.settings.processed_folder,
            context.report,
            stopper,
            on_idle=lambda idle: click.echo(
                "watching: " + ("IMAP IDLE" if idle else "polling (the server has no IDLE)"), err=True
            ),
            on_waiting=(lambda: click.echo("waiting for new mail", err=True)) if verbose else (lambda: None),
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        context.close()
    click.echo("stopped", err=True)
    context.summary()


class _Context:
    """Settings, the processor, and the tally one command prints."""

    def __init__(self, quiet: bool) -> None:
        from tierii_core.settings import CoreSettings, SettingsReader
        from tierii_feedback.processor import Processor
        from tierii_feedback.settings import FeedbackSettings

        self.reader = SettingsReader()
        core = self.reader.load(CoreSettings)
        self.settings = self.reader.load(FeedbackSettings, "feedback")
        self.quiet = quiet
        self.tally: Counter[str] = Counter()
        self.suppressed = 0
        self.processor = Processor(
            _state(core),
            self.settings,
            unsubscribe_mailto=core.unsubscribe_mailto,
            verify_token=_token_verifier(core),
            return_path=core.return_path,
        )

    def imap_settings(self) -> Any:
        from tierii_feedback.settings import ImapSettings

        return self.reader.load(ImapSettings, "imap")

    def report(self, handled: Any) -> None:
        from tierii_feedback.processor import UNREADABLE

        self.tally["already processed" if handled.already else handled.kind] += 1
        self.suppressed += len(handled.suppressed)
        if handled.kind == UNREADABLE:
            click.echo(
                f"warning: {handled.origin}: cannot read this report, left in place: {handled.error}",
                err=True,
            )
            return
        if self.quiet and not handled.suppressed:
            return
        if handled.already:
            return
        done = {email: reason for email, reason in handled.suppressed}
        for event in handled.events:
            outcome = f"suppressed: {done[event.email]}" if event.email in done else "noted"
            campaign = f" [campaign {event.campaign}]" if event.campaign else ""
            click.echo(f"{handled.origin}: {event.kind} {event.email}{campaign}: {outcome}")

    def summary(self) -> None:
        parts = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.tally.items()))
        click.echo(
            f"{sum(self.tally.values())} messages ({parts or 'none'}); {self.suppressed} newly suppressed"
        )

    def close(self) -> None:
        self.processor.close()


def _token_verifier(core: Any) -> Any:
    """Our unsubscribe links name their recipient: complaint reports with the address redacted
    still carry the link. None when no link is configured."""
    if not core.unsubscribe_url or not core.unsubscribe_secret:
        return None
    from tierii_core.unsubscribe import UnsubscribeLinks

    return UnsubscribeLinks(core.unsubscribe_url, core.unsubscribe_secret).verify


def _state(core: Any) -> Any:
    """Where the state is: TIERII_STATE_URL or TIERII_STATE_DIR (a core from before the URL:
    the directory)."""
    try:
        from tierii_core.state import state_location
    except ImportError:
        return core.state_dir
    return state_location(core)
