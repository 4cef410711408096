"""Bytes on the wire: envelope commands and the DATA payload.

The payload is the message's RFC 5322 bytes, dot-stuffed (RFC 5321 section 4.5.2) and
terminated by ``.``. Line ends are made CRLF first if anything else slipped in, so no bare
CR or LF can end the data early at a lenient server ("SMTP smuggling").
"""

from __future__ import annotations

import re

_ANY_LINE_END = re.compile(rb"\r\n|\r|\n")
#: what may never appear in an envelope address: it would end or split the command
_UNSAFE_ADDRESS = re.compile(r"[\s<>\x00-\x1f\x7f]")


class EnvelopeError(ValueError):
    """An address that cannot be put in a MAIL FROM or RCPT TO command as it is."""


def address(value: str, what: str) -> bytes:
    if not value or _UNSAFE_ADDRESS.search(value):
        raise EnvelopeError(f"{what} address {value!r} cannot be used in an SMTP command")
    if not value.isascii():
        raise EnvelopeError(
            f"{what} address {value!r} is not ASCII: internationalised addresses (SMTPUTF8) are not supported"
        )
    return value.encode("ascii")


def mail_from(sender: bytes, size: int | None) -> bytes:
    """``MAIL FROM:<a@b> SIZE=n`` (SIZE when the server announced the extension)."""
    if size is None:
        return b"MAIL FROM:<%s>\r\n" % sender
    return b"MAIL FROM:<%s> SIZE=%d\r\n" % (sender, size)


def rcpt_to(recipient: bytes) -> bytes:
    return b"RCPT TO:<%s>\r\n" % recipient


def payload(message: bytes) -> bytes:
    """The DATA payload for ``message`` (CRLF lines), ending with the ``.`` line."""
    line_ends = message.count(b"\r\n")
    if message.count(b"\n") != line_ends or message.count(b"\r") != line_ends:
        message = _ANY_LINE_END.sub(b"\r\n", message)
    if message.startswith(b"."):
        message = b"." + message
    message = message.replace(b"\r\n.", b"\r\n..")
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"
