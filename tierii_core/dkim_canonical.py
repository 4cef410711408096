"""RFC 6376 on bytes: a message split into header fields and body, relaxed canonicalization
(§3.4.2 headers, §3.4.4 body), the header fields ``h=`` selects (§5.4.2), and SHA-256 that
keeps the GIL.

Each function gives exactly what dkimpy gives (``dkim.rfc822_parse``, the ``Relaxed``
canonicalization, ``dkim.select_headers``): Hypothesis property tests hold them to dkimpy
(tests/authentication/test_dkim_canonical.py). They exist because dkimpy's versions were the
signer's cost: uncompiled regular expressions, every body line split and joined again, and
importing dkimpy pulls in dnspython (~0.18 s of every signed send's start-up). Here the
patterns are compiled once, and work is skipped when a message (as TierII's serializer writes
it: CRLF line ends, single spaces) has nothing to change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

CRLF = b"\r\n"
#: hashlib lets go of the GIL for 2,048 bytes or more; a signing thread that lets go of it
#: waits for it again up to the interpreter's switch interval (5 ms) while the thread that
#: renders messages runs: smaller pieces keep it
_GIL_SAFE = 2047

_BARE_LF = re.compile(rb"(?<!\r)\n")
_FIELD_NAME = re.compile(rb"([\x21-\x7e]+?):")
_LINE_BREAK = re.compile(rb"\r?\n")
_FOLD = re.compile(rb"\r\n(?=[\t ])")
_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")
#: runs of white space that relaxed canonicalization changes: a tab, or two characters or more
#: (a single space stays what it is)
_WSP_RUN = re.compile(rb"\t[\t ]*| [\t ]+")


class MessageFormatError(ValueError):
    """The bytes are not an RFC 5322 message (a header line that is neither a field nor a
    continuation)."""


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields (name, raw value with its CRLF) and the body, with every line ending
    made CRLF: ``dkim.rfc822_parse``'s result."""
    if message.count(b"\n") != message.count(CRLF):
        message = _BARE_LF.sub(CRLF, message)
    if message.startswith(CRLF):
        return [], message[2:]
    end = message.find(b"\r\n\r\n")
    if end < 0:
        head, body = (message[:-2] if message.endswith(CRLF) else message), b""
    else:
        head, body = message[:end], message[end + 4 :]
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(CRLF) if head else ():
        if line[0] in (0x09, 0x20):
            if not headers:
                raise MessageFormatError("the message starts with a continuation line")
            name, value = headers[-1]
            headers[-1] = (name, value + line + CRLF)
            continue
        match = _FIELD_NAME.match(line)
        if match is not None:
            headers.append((match.group(1), line[match.end() :] + CRLF))
        elif not line.startswith(b"From "):  # an mbox separator line is skipped
            raise MessageFormatError(f"not a header field: {line[:60]!r}")
    return headers, body


def relaxed_message(message: bytes, *, crlf: bool = False) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Every header field in relaxed canonical form (:func:`relaxed_header`) and the body (as
    :func:`split_message` gives it), at once: the head is unfolded and its white space
    compressed in one pass, not field by field. A head with a line that is not a plain field
    (an mbox ``From `` line, a broken one) takes the field-by-field way.

    ``crlf``: the caller knows every line ends in CRLF (TierII's serializer writes no other),
    so the look for a bare LF is skipped (a tenth of the work on a 2 KB message)."""
    if not crlf and message.count(b"\n") != message.count(CRLF):
        message = _BARE_LF.sub(CRLF, message)
    end = message.find(b"\r\n\r\n")
    if end > 0:
        head, body = message[:end], message[end + 4 :]
        tab = b"\t" in head  # one byte: found at memchr's speed; the two-byte looks are slower
        if tab or b"\r\n " in head:
            head = _FOLD.sub(b"", head)
        if tab or b"  " in head:
            head = _WSP_RUN.sub(b" ", head)
        fields = []
        names = _LOWER_NAMES
        for line in head.split(CRLF):
            name, colon, value = line.partition(b":")
            lower = names.get(name) if colon else None
            if lower is None:
                if not colon or not _NAME.fullmatch(name):
                    break
                if len(names) > 512:  # a campaign's messages share a few names: never grow unbounded
                    names.clear()
                lower = names[name] = name.lower()
            fields.append((lower, value.strip() + CRLF))
        else:
            return fields, body
    headers, body = split_message(message)
    return [relaxed_header(name, value) for name, value in headers], body


#: field names seen (valid ones only) and their lower case: a dictionary look-up instead of a
#: pattern match and a copy for each field of each message
_LOWER_NAMES: dict[bytes, bytes] = {}


def relaxed_header(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """§3.4.2: the name in lower case; the value unfolded, each run of white space one space,
    none at either end, and a CRLF."""
    if value.endswith(CRLF):  # every field's value ends so: the one line break most have
        value = value[:-2]
    if b"\n" in value:
        value = _LINE_BREAK.sub(b"", value)
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.lower().rstrip(), value.strip() + CRLF


def relaxed_body(body: bytes) -> bytes:
    """§3.4.4 on a CRLF body: no white space at line ends, each run of it one space, no empty
    lines at the end, a CRLF after the last line; an empty body stays empty."""
    tab = b"\t" in body
    if tab or b" \r\n" in body:
        body = _TRAILING_WSP.sub(CRLF, body)
    if tab or b"  " in body:
        body = _WSP_RUN.sub(b" ", body)
    if len(body) > 2 and body.endswith(CRLF) and not body.endswith(b"\r\n\r\n"):
        return body  # the usual case: one line end after the last line, nothing to cut
    end = len(body)
    while body.endswith(CRLF, 0, end):
        end -= 2
    return body[:end] + CRLF if end else b""


def select_headers(
    headers: Sequence[tuple[bytes, bytes]], names: Iterable[bytes]
) -> list[tuple[bytes, bytes]]:
    """§5.4.2: the fields ``h=`` names (lower case), in its order; a name given again takes
    the next instance up from the bottom; a name with no instance left selects nothing."""
    instances: dict[bytes, list[int]] = {}
    for index, (name, _) in enumerate(headers):
        instances.setdefault(name.lower(), []).append(index)
    selected = []
    for wanted in names:
        left = instances.get(wanted)
        if left:
            selected.append(headers[left.pop()])
    return selected


def sha256(*parts: bytes) -> bytes:
    """The SHA-256 digest of ``parts`` joined, fed in pieces small enough that hashlib keeps
    the GIL (see ``_GIL_SAFE``)."""
    hasher = hashlib.sha256()
    for part in parts:
        if len(part) <= _GIL_SAFE:
            hasher.update(part)
            continue
        view = memoryview(part)
        for start in range(0, len(part), _GIL_SAFE):
            hasher.update(view[start : start + _GIL_SAFE])
    return hasher.digest()
