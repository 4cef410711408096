"""One rendered :class:`~tierii_core.models.Message` -> one MailerSend email object.

TierII renders every message itself (strict templates, compliance footer and headers), so each
recipient gets a complete email object of their own: a single ``to``, the full subject, text and
HTML, and no MailerSend personalization or shared recipient list. The SDK's models validate it;
the JSON body is their dump plus ``list_unsubscribe``, a field the SDK does not know.

Display names are cleaned by the core's :func:`tierii_core.mime.display_name`, as the MIME
writer cleans them for SMTP and the outbox. A ``to`` name with ``;`` or ``,`` is refused by
MailerSend (422, quoted or not), so such a name is left out: the email still goes to the address.
"""

from __future__ import annotations

from typing import Any

from tierii_core.mime import display_name
from tierii_core.models import Address, Message

#: headers TierII's compliance adds, which MailerSend sets itself (``list_unsubscribe``)
UNSUBSCRIBE_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
#: characters MailerSend refuses in a recipient's name ("may not contain ; or ,")
_RECIPIENT_NAME_REFUSES = frozenset(";,")


class InvalidMessage(Exception):
    """The SDK's models refuse this message (bad address, subject over 998 characters...)."""


def recipient_name(address: Address) -> str | None:
    """The ``to`` name MailerSend accepts: cleaned, and None when it holds ``;`` or ``,``."""
    name = display_name(address.name)
    if not name or _RECIPIENT_NAME_REFUSES & set(name):
        return None
    return name


def one_click_url(message: Message) -> str | None:
    """TierII's https link in the message's List-Unsubscribe header, for ``list_unsubscribe``."""
    for name, value in message.headers:
        if name.lower() == "list-unsubscribe":
            for part in value.split(","):
                part = part.strip()
                if part.startswith("<https://") and part.endswith(">"):
                    return part[1:-1]
    return None


def build_request(message: Message, *, our_unsubscribe: bool = True) -> dict[str, Any]:
    """The JSON email object for ``message``; :class:`InvalidMessage` if the SDK refuses it.

    TierII's List-Unsubscribe goes in ``list_unsubscribe`` when ``our_unsubscribe`` (a custom
    header cannot replace MailerSend's own); without it MailerSend adds its own header.
    """
    model = _validated(message)
    payload: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True)
    url = one_click_url(message) if our_unsubscribe else None
    if url is not None:
        payload["list_unsubscribe"] = url
    return payload


def _validated(message: Message) -> Any:
    """The SDK's validated ``EmailRequest`` for ``message``."""
    import pydantic
    from mailersend import EmailBuilder
    from mailersend.exceptions import MailerSendError

    builder = EmailBuilder()
    sender_name = display_name(message.sender.name) or None
    steps: list[tuple[str, Any]] = [
        ("from", lambda: builder.from_email(message.sender.email, sender_name)),
        ("to", lambda: builder.to(message.to.email, recipient_name(message.to))),
    ]
    if message.reply_to is not None:
        reply_to = message.reply_to
        reply_name = display_name(reply_to.name) or None
        steps.append(("reply_to", lambda: builder.reply_to(reply_to.email, reply_name)))
    steps.extend(
        (f"header {name!r}", lambda n=name, v=value: builder.header(n, v))
        for name, value in message.headers
        if name.lower() not in UNSUBSCRIBE_HEADERS
    )
    builder.subject(message.subject).text(message.text)
    if message.html is not None:
        builder.html(message.html)
    steps.append(("", builder.build))
    result = None
    for label, step in steps:
        try:
            result = step()
        except pydantic.ValidationError as exc:
            raise InvalidMessage(_describe(exc, label)) from None
        except MailerSendError as exc:
            # build() re-raises the model's pydantic error as a flat string: describe the original
            inner = exc.__cause__ or exc.__context__
            if isinstance(inner, pydantic.ValidationError):
                raise InvalidMessage(_describe(inner, label)) from None
            raise InvalidMessage(f"{label}: {exc}" if label else str(exc)) from None
    return result


def _describe(exc: Any, label: str) -> str:
    """``to.email: value is not a valid email address`` style, one item per problem."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in (label, *error.get("loc", ())) if part != "")
        text = error.get("msg", "invalid").removeprefix("Value error, ")
        problems.append(f"{where}: {text}" if where else text)
    return "; ".join(problems) or str(exc)
