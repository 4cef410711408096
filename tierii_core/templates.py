"""Template files: header lines (``Subject:``, ``From:``, ``Reply-To:``), a blank line, the body.

This is the shape mailmerge users know. The file is split here, independent of the engine;
each header value and the body are then compiled by the engine that claims the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from attrs import frozen

from tierii_core.errors import TemplateError

HEADERS = {"subject": "Subject", "from": "From", "reply-to": "Reply-To"}
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]?(.*)$")


@frozen
class TemplatePiece:
    text: str
    origin: str  # "welcome.mustache:3"


@frozen
class TemplateFile:
    path: Path
    headers: dict[str, TemplatePiece]  # canonical header name -> its template
    body: TemplatePiece


def read_text(path: Path, what: str) -> str:
    """A template file's text; a clear error naming the file and the line of a bad byte."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TemplateError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise TemplateError(f"{what} {path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError(f"{path}:{line}: not valid UTF-8 (byte {data[exc.start]:#04x})") from None


def parse_template(text: str, path: Path) -> TemplateFile:
    """Split a template into headers and body; errors name the file and line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headers: dict[str, TemplatePiece] = {}
    current: str | None = None
    body_start = None
    for number, line in enumerate(lines, start=1):
        if line.strip() == "":
            body_start = number
            break
        if line[0] in " \t" and current is not None:  # a folded header line
            piece = headers[current]
            headers[current] = TemplatePiece(piece.text + " " + line.strip(), piece.origin)
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            raise TemplateError(
                f"{path}:{number}: expected a header line such as 'Subject: ...' "
                "(a template starts with headers, then a blank line, then the body)"
            )
        name, value = match.group(1), match.group(2).strip()
        canonical = HEADERS.get(name.lower())
        if canonical is None:
            hint = (
                " (the recipient comes from the contact's email)"
                if name.lower() in {"to", "cc", "bcc"}
                else ""
            )
            raise TemplateError(
                f"{path}:{number}: header '{name}' is not supported{hint}; use {', '.join(HEADERS.values())}"
            )
        if canonical in headers:
            raise TemplateError(f"{path}:{number}: header '{canonical}' appears twice")
        headers[canonical] = TemplatePiece(value, f"{path}:{number}")
        current = canonical
    if body_start is None:
        raise TemplateError(f"{path}: no blank line after the headers, so there is no body")
    body = "\n".join(lines[body_start:])
    return TemplateFile(path, headers, TemplatePiece(body, f"{path}:{body_start + 1}"))


def load_template(path: Path) -> TemplateFile:
    return parse_template(read_text(path, "template"), path)
