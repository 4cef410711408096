"""One rendered :class:`~tierii_core.models.Message` -> the JSON body of ``POST /emails:send``.

TierII renders every message itself, so each recipient gets a request of their own: one ``to``
address, the full subject, text and HTML. What ACS takes and what it does not:

- ``senderAddress`` is a bare address (a MailFrom of a verified domain): the display name
  recipients see is the one configured for that MailFrom in Azure, not the template's.
- Custom headers go in ``headers``, a JSON object: one value per name. ``List-Unsubscribe``
  and ``List-Unsubscribe-Post`` (RFC 8058) go there. A header repeated in the message is
  refused (it cannot be carried), as are names ACS sets itself.
- ACS writes ``Message-ID`` and ``Date`` itself; the message's own are not sent.
"""

from __future__ import annotations

from typing import Any

from tierii_core.models import Address, Message

#: headers the request's fields carry, or that ACS writes itself: never in ``headers``
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From", "To", "Cc", "Bcc", "Subject", "Reply-To", "Sender", "Date", "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "DKIM-Signature", "Return-Path",
    )
)  # fmt: skip


class InvalidMessage(Exception):
    """The message cannot be expressed as an ACS request."""


def _address(address: Address) -> dict[str, str]:
    entry = {"address": address.email}
    if address.name:
        entry["displayName"] = address.name
    return entry


def build_request(message: Message, sender: str = "") -> dict[str, Any]:
    """The ``EmailMessage`` JSON for ``message``; ``sender`` (TIERII_AZURE_SENDER) wins over From."""
    if any(c in message.subject for c in "\r\n"):
        raise InvalidMessage("the subject spans several lines")
    headers: dict[str, str] = {}
    for name, value in message.headers:
        if name.lower() in RESERVED_HEADERS:
            raise InvalidMessage(f"header {name!r} is set by ACS or by the request's fields")
        if any(existing.lower() == name.lower() for existing in headers):
            raise InvalidMessage(f"header {name!r} appears twice; ACS takes one value per header")
        headers[name] = value
    content: dict[str, str] = {"subject": message.subject, "plainText": message.text}
    if message.html is not None:
        content["html"] = message.html
    request: dict[str, Any] = {
        "senderAddress": sender or message.sender.email,
        "content": content,
        "recipients": {"to": [_address(message.to)]},
    }
    if message.reply_to is not None:
        request["replyTo"] = [_address(message.reply_to)]
    if headers:
        request["headers"] = headers
    return request
