"""What ``tierii preview`` and ``tierii send`` share: the options that say what the messages
are made of, handed to the command as one :class:`MessageArgs`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from attrs import fields, frozen

from tierii_core.settings import env_name

if TYPE_CHECKING:
    from tierii_core.options import SendOptions


@frozen
class MessageArgs:
    """The contacts, the templates and what changes the messages, as the command line gives them."""

    contacts: str
    template: Path
    html: Path | None
    subject: str | None
    sender: str | None
    rules: str | None
    transactional: bool | None
    where: tuple[str, ...]
    log_json: bool | None

    def settings(self) -> dict[str, Any]:
        """The settings these options override (None: not given)."""
        return {env_name(None, "rules"): self.rules, env_name(None, "transactional"): self.transactional}

    def send_options(self, **more: Any) -> SendOptions:
        from tierii_core.options import SendOptions

        return SendOptions(
            self.contacts, self.template, self.html, self.subject, self.sender, where=self.where, **more
        )


_OPTIONS = [
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


def message_options(func: Any) -> Any:
    """Add the shared options; the command receives them as its first argument, a MessageArgs."""
    names = [field.name for field in fields(MessageArgs)]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        message = MessageArgs(**{name: kwargs.pop(name) for name in names})
        return func(message, **kwargs)

    for option in reversed(_OPTIONS):
        command = option(command)
    return command
