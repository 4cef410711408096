"""The ``tierii`` command. Exit codes: 0 done, 1 some failed, 2 usage/configuration, 3 stopped."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import click

from tierii_core import __version__
from tierii_core.cli_setup import current_plugin_manager, settings_reader, use_plugin_manager
from tierii_core.cli_setup import setup as _setup
from tierii_core.errors import ConfigurationError, ExitCode, TierIIError
from tierii_core.models import Status
from tierii_core.settings import (
    DEPRECATED_SETTINGS,
    CoreSettings,
    env_name,
    use_settings_file,
)


class TierIIGroup(click.Group):
    """Turns TierII errors into a one-line message and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TierIIError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(int(exc.exit_code))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            broken = sorted(getattr(current_plugin_manager(), "broken", None) or ())
            if broken and args and not args[0].startswith("-"):  # a broken plugin's command?
                names = ", ".join(broken)
                exc.message += f"\n(broken plugins may have added it: {names}; `tierii plugins` says why)"
            raise


@click.group(cls=TierIIGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tierii")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    envvar="TIERII_ENV_FILE",
    help="Read settings from this file instead of ./.env (TIERII_ENV_FILE).",
)
def cli(env_file: Path | None) -> None:
    """Send personalised, compliant email campaigns.

    \b
    Exit codes: 0 all done; 1 some recipients failed; 2 usage or configuration
    error, nothing sent; 3 run stopped early (provider down, interrupted): re-run.
    """
    use_settings_file(env_file)


# -- check ------------------------------------------------------------------------------------


@cli.command()
@click.option("--provider", "provider_name", help="Provider to test (default: the one a send would use).")
@click.option(
    "--auth",
    "auth_domain",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DOMAIN]",
    help="Check SPF, DKIM, DMARC and alignment for DOMAIN (default: the From domain) instead; "
    "exit 1 when something is missing, 3 when DNS did not answer.",
)
@click.option("--json", "as_json", is_flag=True, help="With --auth: print one JSON object.")
def check(provider_name: str | None, auth_domain: str | None, as_json: bool) -> None:
    """Validate settings, show them (secrets masked) and test the provider."""
    from tierii_core.plugins import Registry, plugin_settings
    from tierii_core.sender_auth import SETTINGS_SECTIONS

    pm = _setup()
    reader = settings_reader({env_name(None, "provider"): provider_name})
    if auth_domain is not None:
        from tierii_core.authcheck import command

        sys.exit(command.run(pm, reader, auth_domain, provider_name, as_json))
    registry = Registry(pm)
    known = set()
    problems = []
    sections: list[tuple[str, type, str | None]] = [("core", CoreSettings, None)]
    sections += [
        (f"{i.kind} {i.name}", i.cls.Settings, i.name)
        for i in registry.components()
        if attrs.fields(i.cls.Settings)
    ]
    sections += list(SETTINGS_SECTIONS)
    sections += [(f"plugin {prefix}", settings_cls, prefix) for prefix, settings_cls in plugin_settings(pm)]
    for title, settings_cls, component in sections:
        click.echo(f"[{title}]")
        try:
            for origin in reader.origins(settings_cls, component):
                known.add(origin.variable)
                click.echo(f"  {origin.variable} = {origin.shown()}  ({origin.source})")
        except TierIIError as exc:
            problems.append(str(exc))
            click.echo(f"  {exc}")
    unknown = sorted(
        reader.known_variables()
        - known
        - {"TIERII_LOAD_PLUGINS", "TIERII_DISABLE_PLUGINS", "TIERII_TRACE_PLUGINS", "TIERII_ENV_FILE"}
        - {"TIERII_NO_ENTRY_POINT_CACHE"}
    )
    for variable in unknown:
        if variable in DEPRECATED_SETTINGS:
            click.echo(f"warning: {DEPRECATED_SETTINGS[variable]}", err=True)
            continue
        click.echo(f"warning: {variable} is not a known setting (misspelt?)", err=True)
    if problems:
        raise ConfigurationError("settings are invalid (see above)")

    from tierii_core.assembly import Assembly

    core = reader.load(CoreSettings)
    provider = Assembly(pm, reader, core).provider(core.provider.split(",")[0].strip() or "auto")
    click.echo(f"[check: provider {provider.name}]")
    _show_credentials_source(provider)
    ok = True
    for step in provider.check():
        ok = ok and step.ok
        click.echo(f"  {'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}")
    from tierii_core.sender_auth import dkim_steps

    for step in dkim_steps(provider, reader):  # a bad key is a ConfigurationError: exit 2
        click.echo(f"  {'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}")
    if not ok:
        sys.exit(ExitCode.STOPPED)


def _show_credentials_source(provider: Any) -> None:
    """Where the provider's credentials came from; a warning when settings hold an unused copy."""
    from tierii_core.default_plugins.credentials import SOURCE, settings_secret

    credentials = provider.credentials
    if credentials is None:
        return
    source = credentials.source or "a credentials plugin"
    click.echo(f"  credentials: from {source}")
    found = settings_secret(provider.settings)
    if source != SOURCE and credentials.secret and found:
        variable = env_name(provider.name, found[0])
        click.echo(
            f"warning: {variable} is set too, but the secret from {source} is the one used: "
            f"the copy in settings can go",
            err=True,
        )


# -- preview and send -------------------------------------------------------------------------


def _message_options(func: Any) -> Any:
    options = [
        click.argument("contacts"),
        click.option(
            "-t",
            "--template",
            type=click.Path(path_type=Path),
            required=True,
            help="Template file (headers, blank line, text body).",
        ),
        click.option("--html", type=click.Path(path_type=Path), help="HTML alternative template."),
        click.option("--subject", help="Subject (overrides the template's Subject:)."),
        click.option("--from", "sender", help="Sender 'Name <addr>' (overrides the template's From:)."),
        click.option("--rules", help="Compliance rule packs to check too, PACK[,PACK...] (TIERII_RULES)."),
        click.option(
            "--transactional", is_flag=True, default=None, help="Transactional mail: marketing rules off."
        ),
        click.option(
            "--where",
            multiple=True,
            help='Only contacts for which EXPR holds, e.g. \'state in ("CA","NV")\' (repeatable: all hold).',
        ),
        click.option("--log-json", is_flag=True, default=None, help="Log events as JSON lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@_message_options
@click.option(
    "-n", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many messages to show."
)
def preview(
    contacts: str,
    template: Path,
    html: Path | None,
    subject: str | None,
    sender: str | None,
    log_json: bool | None,
    count: int,
    rules: str | None,
    transactional: bool | None,
    where: tuple[str, ...],
) -> None:
    """Render the first N messages and print them; send nothing."""
    from tierii_core.runner import Campaign, SendOptions

    pm = _setup(log_json)
    options = SendOptions(contacts, template, html, subject, sender, where=where)
    reader = settings_reader({env_name(None, "rules"): rules, env_name(None, "transactional"): transactional})
    campaign = Campaign(pm, reader, options)
    campaign.prepare(need_provider=False)
    tally: Counter = Counter()
    for item in campaign.preview(count):
        click.echo(f"----- {item.origin}")
        if item.message is None:
            tally[f"{item.outcome.status.value} ({item.outcome.reason.split(':', 1)[0]})"] += 1
            click.echo(f"{item.outcome.status.value}: {item.outcome.reason}")
            continue
        tally["will send"] += 1
        click.echo(_readable(item.message))
    click.echo("-----")
    click.echo(
        f"of the first {sum(tally.values())}: " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))
    )
    click.echo(f"rules checked: {', '.join(rule.name for rule in campaign.rules) or 'none'}")
    if campaign.segment is not None:
        click.echo(f"not in segment (--where), of the records read: {campaign.not_in_segment}")


def _shown_address(address: Any) -> str:
    """An address as a person reads it: the display name decoded, as the Subject is."""
    from tierii_core.mime import one_line

    name = one_line(address.name).strip()
    if not name:
        return address.email
    if any(c in name for c in ',;:<>@"()[]\\'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address.email}>"


def _readable(message: Any) -> str:
    lines = [f"From: {_shown_address(message.sender)}", f"To: {_shown_address(message.to)}"]
    if message.reply_to:
        lines.append(f"Reply-To: {_shown_address(message.reply_to)}")
    lines.append(f"Subject: {message.subject}")
    lines += [f"{name}: {value}" for name, value in message.headers]
    lines += ["", message.text.rstrip("\n")]
    if message.html is not None:
        lines += ["", f"[HTML alternative: {len(message.html)} characters]"]
    return "\n".join(lines)


@cli.command()
@_message_options
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
    contacts: str,
    template: Path,
    html: Path | None,
    subject: str | None,
    sender: str | None,
    log_json: bool | None,
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
    rules: str | None,
    retry_failed: bool,
    retry_unknown: bool,
    transactional: bool | None,
    where: tuple[str, ...],
    proof: str | None,
    proof_count: int,
    at: str | None,
    tz_name: str | None,
    window: str | None,
) -> None:
    """Send a campaign: every contact in CONTACTS gets the rendered TEMPLATE."""
    from tierii_core.runner import Campaign, SendOptions

    pm = _setup(log_json)
    overrides = {
        env_name(None, "provider"): provider,
        env_name(None, "batch_size"): batch_size,
        env_name(None, "batch_delay"): batch_delay,
        env_name(None, "rate_limit"): rate,
        env_name(None, "concurrency"): concurrency,
        env_name(None, "transactional"): transactional,
        env_name(None, "rules"): rules,
        env_name("outbox", "dir"): outbox,
    }
    if report is not None:
        _check_writable(report, "--report")
    reader = settings_reader(overrides)
    core = reader.load(CoreSettings)
    options = SendOptions(
        contacts,
        template,
        html,
        subject,
        sender,
        campaign,
        dry_run,
        limit,
        retry_failed,
        retry_unknown,
        where,
        _proof_addresses(proof, dry_run),
        _schedule(at, tz_name, window, dry_run or bool(proof)),
    )
    run = Campaign(pm, reader, options, core)
    if options.proof:
        _send_proofs(run, proof_count)
    run.prepare(need_provider=not dry_run)
    click.echo(f"campaign {run.campaign}: provider {','.join(run.provider_names) or '(dry run)'}", err=True)
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
    click.echo(f"campaign {run.campaign}: proof through {run.provider_names[0]}", err=True)
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
    click.echo(f"sign-off: tierii approve {run.campaign} --by NAME")
    sys.exit(1 if failed else 0)


# -- status -----------------------------------------------------------------------------------


@cli.command()
@click.argument("campaign", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--list",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in Status] + ["all"]),
    help="Also list the recipients in this state (repeatable; 'all' for every state).",
)
def status(campaign: str | None, as_json: bool, states: tuple[str, ...]) -> None:
    """What the journal knows: sent, failed, excluded, unknown, pending (latest campaign by default)."""
    import sqlite3

    from tierii_core.journal import SqliteJournal, reason_group

    core = settings_reader().load(CoreSettings)
    journal = SqliteJournal(core.state_dir, read_only=True)
    try:
        known = journal.campaigns()
        if campaign is None:
            if not known:
                raise ConfigurationError(f"no campaign in the journal at {core.state_dir}")
            campaign = known[0]
        elif campaign not in known:
            raise ConfigurationError(f"no campaign named {campaign!r} (known: {', '.join(known) or 'none'})")
        wanted = list(Status) if "all" in states else [Status(s) for s in states]
        report: dict[str, Any] = {"campaign": campaign, "counts": journal.counts(campaign)}
        report["excluded_by_reason"] = dict(
            Counter(reason_group(r.last_error) for r in journal.recipients(campaign, Status.EXCLUDED))
        )
        feedback = _feedback(core.state_dir, campaign, report["counts"][Status.SENT.value])
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

        raise ConfigurationError(explain(journal.path, exc)) from None
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


def _feedback(state_dir: Path, campaign: str, sent: int) -> Any:
    """Bounces and complaints noted for the campaign (by tierii-feedback; zeros without it)."""
    from tierii_core.feedback_store import FeedbackStore

    store = FeedbackStore(state_dir, read_only=True)
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


def _add_commands() -> None:
    from tierii_core import cli_campaigns, cli_compliance, cli_plugins, cli_state

    for command in (
        cli_plugins.COMMANDS + cli_compliance.COMMANDS + cli_campaigns.COMMANDS + cli_state.COMMANDS
    ):
        cli.add_command(command)


_add_commands()


def _settings_file_in(args: list[str]) -> Path | None:
    """The ``--env-file`` given before the command (or ``TIERII_ENV_FILE``).

    main() loads plugins before click parses the arguments, and the plugin variables
    (``TIERII_DISABLE_PLUGINS``...) may be set in that file.
    """
    for index, arg in enumerate(args):
        if arg == "--env-file" and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--env-file="):
            return Path(arg.split("=", 1)[1])
        if not arg.startswith("-"):  # the command: its own options are not ours
            break
    value = os.environ.get("TIERII_ENV_FILE")
    return Path(value) if value else None


def main() -> None:
    """The ``tierii`` command: plugins may add commands before the arguments are parsed.

    A broken plugin (import, hooks, or its commands) is left out here, so that ``--help``,
    ``plugins`` and ``uninstall`` work; the commands that need plugins name it and exit 2.
    """
    from tierii_core.plugins import make_plugin_manager, register_commands

    settings_file = _settings_file_in(sys.argv[1:])
    if settings_file is not None and settings_file.is_file():
        use_settings_file(settings_file)  # click checks the option itself, with its message
    try:
        pm = make_plugin_manager(tolerant=True)
    except TierIIError:
        use_plugin_manager(None)  # the command reports the problem
    else:
        use_plugin_manager(pm)
        register_commands(pm, cli)
    cli(prog_name="tierii")


if __name__ == "__main__":  # pragma: no cover
    # `python -m tierii_core.cli`: run the importable module's main, not this copy's, so that
    # the commands and the plugin manager are those every other module sees
    from tierii_core.cli import main as _main

    _main()
