"""One rendered :class:`~tierii_core.models.Message` -> one SDK ``EmailRequest``.

TierII renders every message itself (strict templates, compliance footer and headers), so each
recipient gets a complete email object of their own: a single ``to``, the full subject, text and
HTML, and no MailerSend personalization or shared recipient list.
"""

from __future__ import annotations

from typing import Any

from tierii_core.models import Message


class InvalidMessage(Exception):
    """The SDK's models refuse this message (bad address, subject over 998 characters...)."""


def build_request(message: Message) -> Any:
    """The SDK's validated ``EmailRequest`` for ``message``; :class:`InvalidMessage` if refused.

    Headers go through ``.header()``: the SDK model has no ``list_unsubscribe`` field and
    silently drops fields it does not know.
    """
    import pydantic
    from mailersend import EmailBuilder
    from mailersend.exceptions import MailerSendError

    builder = EmailBuilder()
    steps: list[tuple[str, Any]] = [
        ("from", lambda: builder.from_email(message.sender.email, message.sender.name or None)),
        ("to", lambda: builder.to(message.to.email, message.to.name or None)),
    ]
    if message.reply_to is not None:
        reply_to = message.reply_to
        steps.append(("reply_to", lambda: builder.reply_to(reply_to.email, reply_to.name or None)))
    steps.extend(
        (f"header {name!r}", lambda n=name, v=value: builder.header(n, v)) for name, value in message.headers
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
