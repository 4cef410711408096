"""VERP: a Return-Path (envelope sender) per recipient, so a bounce names who bounced.

With ``TIERII_RETURN_PATH=bounces@shop.example`` the message to ``ana@example.com`` leaves
with ``MAIL FROM:<bounces+ana=example.com@shop.example>`` (the recipient's ``@`` becomes
``=``, as qmail and Mailman do). Every bounce goes back to that address, so a bounce in a
shape no parser knows still says whose it is. The mailbox of ``bounces@shop.example`` must
receive ``bounces+anything@shop.example`` (Postfix: ``recipient_delimiter = +``; most mail
hosts do it by default).

Where the tagged address would break the rules (a local part over 64 octets, RFC 5321
§4.5.3.1.1) or need SMTPUTF8 (a non-ASCII recipient), the plain return path is used.
"""

from __future__ import annotations

MAX_LOCAL_PART = 64


def encode(return_path: str, recipient: str) -> str:
    """``bounces@shop.example`` + ``Ana@Example.com`` -> ``bounces+ana=example.com@shop.example``."""
    local, _, domain = return_path.rpartition("@")
    recipient_local, at, recipient_domain = recipient.strip().lower().rpartition("@")
    if not at or not recipient_local:
        return return_path
    try:
        tag = f"{recipient_local}={recipient_domain.encode('idna').decode('ascii')}"
        tag.encode("ascii")
    except UnicodeError:
        return return_path
    tagged = f"{local}+{tag}"
    if len(tagged) > MAX_LOCAL_PART or any(c in tagged for c in ' <>"\\'):
        return return_path
    return f"{tagged}@{domain}"


def decode(return_path: str, address: str) -> str | None:
    """The recipient a tagged address stands for; None when ``address`` is not one of ours."""
    local, _, domain = return_path.lower().rpartition("@")
    text = address.strip().strip("<>").lower()
    tagged, at, tagged_domain = text.rpartition("@")
    if not at or tagged_domain != domain or not tagged.startswith(local + "+"):
        return None
    recipient_local, equals, recipient_domain = tagged[len(local) + 1 :].rpartition("=")
    if not equals or not recipient_local or not recipient_domain:
        return None
    return f"{recipient_local}@{recipient_domain}"
