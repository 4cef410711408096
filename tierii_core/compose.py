"""Turn one contact into one :class:`Message`: render every piece of the template, strictly."""

from __future__ import annotations

import functools
import itertools
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from tierii_core import verp
from tierii_core.components import CompiledTemplate, ContactVariables, TemplateEngine
from tierii_core.errors import ConfigurationError, ContactError, MissingVariable
from tierii_core.mime import one_line
from tierii_core.models import Address, Contact, Message
from tierii_core.templates import TemplateFile, TemplatePiece, load_template, read_text
from tierii_core.unsubscribe import UnsubscribeLinks


class ComposeError(Exception):
    """This contact's message cannot be built (a missing variable, a bad rendered address)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


_NAME_ADDR = re.compile(r"\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>\s*")
_BARE_ADDR = re.compile(r"\s*([^<>\s\"]+@[^<>\s\"@]+)\s*")


@functools.lru_cache(maxsize=1024)  # a From: line usually renders the same for every contact
def parse_address(text: str, what: str) -> Address:
    """``Name <a@b>`` or ``a@b`` -> Address; ValueError naming ``what`` if it is not one.

    The display name is everything before the last ``<...>``, so a rendered name may hold
    any character (``;``, ``,``, quotes) without breaking the address.
    """
    text = one_line(text)
    if match := _NAME_ADDR.fullmatch(text):
        name, email = match.groups()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return Address(email, name)
    if match := _BARE_ADDR.fullmatch(text):
        return Address(match.group(1), "")
    raise ValueError(f"{what} {text.strip()!r} is not an email address")


class Composer:
    """Compiles a template once, then builds a message per contact."""

    def __init__(
        self,
        template_path: Path,
        engine: TemplateEngine,
        *,
        html_path: Path | None = None,
        subject: str | None = None,
        sender: str | None = None,
        default_sender: Address | None = None,
        campaign_vars: Mapping[str, str] | None = None,
        links: UnsubscribeLinks | None = None,
        return_path: str = "",
        contact_variables: Sequence[ContactVariables] = (),
    ) -> None:
        self.template_path = template_path
        template: TemplateFile = load_template(template_path)
        headers = dict(template.headers)
        if subject is not None:
            headers["Subject"] = TemplatePiece(subject, "--subject")
        if sender is not None:
            headers["From"] = TemplatePiece(sender, "--from")
        if "Subject" not in headers:
            raise ConfigurationError(f"{template_path}: no 'Subject:' header and no --subject given")
        self._plugins = tuple(contact_variables)
        supplied_sender = any(p.supplies_sender for p in self._plugins)
        if "From" not in headers and default_sender is None and not supplied_sender:
            raise ConfigurationError(
                f"{template_path}: no sender: add a 'From:' header, pass --from, or set TIERII_FROM_EMAIL"
            )

        def compile_piece(piece: TemplatePiece, escape_html: bool = False) -> CompiledTemplate:
            return engine.compile(piece.text, origin=piece.origin, escape_html=escape_html)

        self._subject = compile_piece(headers["Subject"])
        self._sender = compile_piece(headers["From"]) if "From" in headers else None
        self._reply_to = compile_piece(headers["Reply-To"]) if "Reply-To" in headers else None
        self._text = compile_piece(template.body)
        self._html = None
        if html_path is not None:
            html_source = read_text(html_path, "HTML template")
            self._html = compile_piece(TemplatePiece(html_source, f"{html_path}:1"), escape_html=True)
        self._default_sender = default_sender
        self._campaign_vars = {k: v for k, v in (campaign_vars or {}).items() if v}
        #: variables the settings leave empty, each with its setting: using one is a configuration error
        self.unset_vars = {k: f"TIERII_{k.upper()}" for k, v in (campaign_vars or {}).items() if not v}
        for plugin in self._plugins:
            self.unset_vars.update(plugin.unset())
        self._links = links
        self._return_path = return_path  # VERP-tagged per recipient (tierii_core.verp)
        self._ids = itertools.count()
        self._id_prefix = f"{os.getpid()}.{secrets.token_hex(6)}"

    def compose(self, contact: Contact) -> Message:
        context = {**self._campaign_vars, **contact.fields}
        variables, plugin_sender = self._campaign_vars, None
        if self._plugins:  # a plugin's values for this recipient win over its fields
            supplied: dict = {}
            try:
                for plugin in self._plugins:
                    supplied.update(plugin.variables(contact))
                    plugin_sender = (plugin.supplies_sender and plugin.sender(contact)) or plugin_sender
            except ContactError as exc:
                raise ComposeError(str(exc)) from None
            context.update(supplied)
            variables = {**variables, **supplied}
        context.setdefault("email", contact.email)
        headers: tuple[tuple[str, str], ...] = ()
        if self._links is not None:  # set last: no contact field can redirect the link
            url = context["unsubscribe_url"] = self._links.url(contact.email)
            headers = self._links.headers(url)
        try:
            subject = one_line(self._subject.render(context)).strip()
            sender = (
                parse_address(self._sender.render(context), "From")
                if self._sender is not None
                else plugin_sender or self._default_sender
            )
            if sender is None:
                raise ValueError("no sender for this contact (no From: line, --from or TIERII_FROM_EMAIL)")
            reply_to = parse_address(self._reply_to.render(context), "Reply-To") if self._reply_to else None
            text = self._text.render(context)
            html = self._html.render(context) if self._html is not None else None
        except MissingVariable as exc:
            raise ComposeError(str(exc), exc.variable) from None
        except ValueError as exc:
            raise ComposeError(str(exc)) from None
        domain = sender.email.rsplit("@", 1)[-1]
        return Message(
            contact=contact,
            sender=sender,
            to=Address(contact.email, contact.name),
            subject=subject,
            text=text,
            html=html,
            reply_to=reply_to,
            message_id=f"<{self._id_prefix}.{next(self._ids)}@{domain}>",
            date=datetime.now(timezone.utc).replace(microsecond=0),  # the header shows seconds
            headers=headers,
            return_path=verp.encode(self._return_path, contact.email) if self._return_path else None,
            variables=variables,
        )
