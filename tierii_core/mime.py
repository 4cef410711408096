"""Fast, correct RFC 5322 / MIME bytes for a :class:`~tierii_core.models.Message`.

Building an ``email.message.EmailMessage`` costs most of a Python sender's time per message,
so the bytes are assembled directly here: ASCII headers that fit are written as they are,
others are folded or RFC 2047 base64-encoded in 75-column words; bodies are 7bit when
they can be, else quoted-printable (``binascii``, in C). Lines end in CRLF; no line exceeds
998 octets. The round trip through the ``email`` parser is property-tested.
"""

from __future__ import annotations

import binascii
import functools
import re
import secrets
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mime takes models' values; models must not be imported back at run time
    from tierii_core.models import Address, Message

CRLF = "\r\n"
MAX_HEADER = 78
MAX_LINE = 998  # RFC 5322 §2.1.1: the limit for any line, body lines included
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0085\u2028\u2029]+")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except ':'
_ATOM_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def one_line(value: str) -> str:
    """Header-safe text: every control character (CR and LF included) becomes one space.

    This is what makes header injection impossible: a contact value can never start a new
    header line, whatever it contains.
    """
    return _CONTROL.sub(" ", value)


def display_name(name: str) -> str:
    """The display name every provider sends: :func:`one_line`, trimmed. The MIME writer uses
    it for From, To and Reply-To; API providers (MailerSend...) put it in their JSON."""
    return one_line(name).strip()


def _needs_encoding(value: str) -> bool:
    return not value.isascii() or "=?" in value


def encoded_words(text: str, first_room: int) -> list[str]:
    """RFC 2047 base64 encoded words for ``text``; the first fits in ``first_room`` columns,
    each next one in a continuation line (at most 75 characters, as RFC 2047 requires).

    Words end after a space where possible (the space inside the word), so that decoders
    that keep the folding white space between words (Python's address parser does) still
    show the text as written."""
    words: list[str] = []
    room = first_room
    chunk = ""
    for char in text:
        max_bytes = max(((room - 12) // 4) * 3, 3)
        if chunk and len((chunk + char).encode("utf-8")) > max_bytes:
            cut = chunk.rfind(" ") + 1
            if cut <= 0 or cut == len(chunk):
                cut = len(chunk)
            words.append(_word(chunk[:cut].encode("utf-8")))
            chunk = chunk[cut:]
            room = MAX_HEADER - 3
        chunk += char
    if chunk or not words:
        words.append(_word(chunk.encode("utf-8")))
    return words


def _word(chunk: bytes | bytearray) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(bytes(chunk), newline=False).decode("ascii") + "?="


def fold_words(prefix_len: int, words: list[str]) -> str:
    """Join ``words`` with spaces, breaking lines (CRLF + space) to stay within 78 columns."""
    lines: list[str] = []
    current = ""
    width = prefix_len
    for word in words:
        if current and width + 1 + len(word) > MAX_HEADER:
            lines.append(current)
            current, width = word, 1 + len(word)
        else:
            current = f"{current} {word}" if current else word
            width += len(word) + (1 if width > prefix_len else 0)
    lines.append(current)
    return "\r\n ".join(lines)


def _foldable(words: list[str], prefix_len: int) -> bool:
    """Whether ``words`` fold into lines of at most 78 columns: the first after the header's
    name, each next one after the folding space. A longer word (a 3,000-character name
    without spaces) must be RFC 2047 encoded instead, which splits anywhere."""
    return prefix_len + len(words[0]) <= MAX_HEADER and all(len(w) <= MAX_HEADER - 1 for w in words[1:])


def encode_text(value: str, prefix_len: int) -> str:
    """Unstructured header text (a subject): as is if it fits, folded, or RFC 2047 encoded."""
    value = one_line(value)
    if not _needs_encoding(value):
        if prefix_len + len(value) <= MAX_HEADER:
            return value
        words = value.split(" ")
        if all(words) and _foldable(words, prefix_len):
            return fold_words(prefix_len, words)
    return fold_words(prefix_len, encoded_words(value, MAX_HEADER - prefix_len))


def encode_header(name: str, value: str) -> str:
    """``Name: value`` as one (possibly folded) header line, without the trailing CRLF."""
    return f"{name}: {encode_text(value, len(name) + 2)}"


def encode_structured(name: str, value: str) -> str:
    """A structured header (``List-Unsubscribe``): ASCII, never RFC 2047 encoded; folded at
    spaces when long, a single long word kept whole (up to the 998-octet line limit)."""
    value = one_line(value).strip()
    if not value.isascii():
        raise ValueError(f"header {name}: non-ASCII value {value!r}")
    if len(name) + 2 + len(value) > MAX_HEADER and " " in value:
        value = fold_words(len(name) + 2, [w for w in value.split(" ") if w])
    if any(len(line) > 998 - len(name) - 2 for line in value.split("\r\n")):
        raise ValueError(f"header {name}: a line longer than 998 octets")
    return f"{name}: {value}"


def format_address(address: Address, prefix_len: int = 0) -> str:
    """An address for a header: ``"Name" <email>``, the name RFC 2047 encoded if not ASCII."""
    email = address.email
    name = display_name(address.name)
    if not name:
        return email
    display = None
    if not _needs_encoding(name):
        if _ATOM_SPECIALS.search(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words = name.split(" ")
        if prefix_len + len(name) <= MAX_HEADER:
            display = name
        elif all(words) and _foldable(words, prefix_len):
            display = fold_words(prefix_len, words)
        else:
            name = one_line(address.name).strip()  # encoded words carry the text unquoted
    if display is None:
        display = fold_words(prefix_len, encoded_words(name, MAX_HEADER - prefix_len))
    last_line = len(display.rsplit("\r\n", 1)[-1]) + (prefix_len if "\r\n" not in display else 0)
    separator = " " if last_line + 3 + len(email) <= MAX_HEADER else "\r\n "
    return f"{display}{separator}<{email}>"


def encode_address_header(name: str, address: Address) -> str:
    return f"{name}: {format_address(address, len(name) + 2)}"


@functools.lru_cache(maxsize=256)
def _campaign_address_header(name: str, address: Address) -> str:
    """From and Reply-To: the same for most of a campaign's messages, encoded once."""
    return encode_address_header(name, address)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def encode_body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes with CRLF line ends) for a text part."""
    text = _normalise_newlines(text)
    if text.isascii() and max(map(len, text.split("\n"))) <= MAX_LINE and "\x00" not in text:
        body = text.encode("ascii")
        encoding = "7bit"
    else:
        body = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
        encoding = "quoted-printable"
    body = body.replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return encoding, body


def _text_part(subtype: str, text: str) -> tuple[list[str], bytes]:
    encoding, body = encode_body(text)
    charset = "us-ascii" if encoding == "7bit" else "utf-8"
    headers = [
        f'Content-Type: text/{subtype}; charset="{charset}"',
        f"Content-Transfer-Encoding: {encoding}",
    ]
    return headers, body


def check_header_name(name: str) -> str:
    if name not in _GOOD_NAMES:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if len(_GOOD_NAMES) < 256:  # a campaign's messages share a few names
            _GOOD_NAMES.add(name)
    return name


_GOOD_NAMES: set[str] = set()


def serialize(message: Message, *, boundary: str | None = None) -> bytes:
    """The message as RFC 5322 bytes with CRLF line ends, ready for SMTP DATA or a file.

    Raises ValueError for an address that is not ASCII (it would need SMTPUTF8).
    """
    for role, address in (
        ("sender", message.sender),
        ("recipient", message.to),
        ("Reply-To", message.reply_to),
    ):
        if address is not None and not address.email.isascii():
            raise ValueError(f"{role} address {address.email!r} is not ASCII: it would need SMTPUTF8")
    lines = [
        f"Date: {_date(message.date)}",
        _campaign_address_header("From", message.sender),
        encode_address_header("To", message.to),
    ]
    if message.reply_to is not None:
        lines.append(_campaign_address_header("Reply-To", message.reply_to))
    lines.append(encode_header("Subject", message.subject))
    lines.append(f"Message-ID: {message.message_id}")
    lines.extend(encode_structured(check_header_name(n), v) for n, v in message.headers)
    lines.append("MIME-Version: 1.0")

    if message.html is None:
        part_headers, body = _text_part("plain", message.text)
        lines.extend(part_headers)
        return _join(lines) + b"\r\n" + body

    boundary = boundary or f"=_tierii_{secrets.token_hex(12)}"
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    chunks = [_join(lines), b"\r\n"]
    for subtype, content in (("plain", message.text), ("html", message.html)):
        part_headers, body = _text_part(subtype, content)
        # the CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1): one more
        # keeps each part's own last line break
        chunks += [f"--{boundary}\r\n".encode(), _join(part_headers), b"\r\n", body, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


@functools.lru_cache(maxsize=4)
def _date(when: datetime) -> str:
    """RFC 5322 date; messages made in the same second share it (the cache key is the second)."""
    return format_datetime(when)


def _join(lines: list[str]) -> bytes:
    return (CRLF.join(lines) + CRLF).encode("ascii")
