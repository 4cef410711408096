"""``tierii preview``: the first messages as a person reads them; nothing is sent."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from tierii_core.cli.context import settings_reader
from tierii_core.cli.context import setup as _setup
from tierii_core.cli.message_options import MessageArgs, message_options


@click.command()
@message_options
@click.option(
    "-n", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many messages to show."
)
def preview(message: MessageArgs, count: int) -> None:
    """Render the first N messages and print them; send nothing."""
    from tierii_core.runner import Campaign

    pm = _setup(message.log_json)
    campaign = Campaign(pm, settings_reader(message.settings()), message.send_options())
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


#: the commands this module adds to ``tierii``
COMMANDS = [preview]
