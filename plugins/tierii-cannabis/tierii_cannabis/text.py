"""The text a reader sees in each part of a message, normalised for pattern matching.

HTML is read with the standard library's forgiving parser (so a ``>`` inside an attribute or
an unclosed tag cannot leak markup into the text); the contents of ``head``, ``script``,
``style`` and ``template`` are not visible and are dropped; entities are decoded. Every run of
white space becomes one space and typographic quotes become plain ones, so a pack pattern
written with a single space and ``'`` matches across line breaks and curly apostrophes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tierii_core.models import Message

_SPACE = re.compile(r"\s+")
_URL = re.compile(r"\b(?:https?|mailto):\S+", re.I)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_HIDDEN = frozenset({"head", "script", "style", "template", "title"})
#: elements that end a line of text: their boundary is a space, so words never run together
_BREAKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header hr "  # noqa: SIM905 (words read better than quoted strings)
    "li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)


def squash(text: str) -> str:
    """White space collapsed to single spaces, typographic quotes made plain, ends stripped."""
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip()


def without_urls(text: str) -> str:
    """``text`` with URLs blanked: link tokens and tracking parameters are not claims."""
    return _URL.sub(" ", text)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":  # a body ends an unclosed head
            self.hidden = 0
        elif tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BREAKS:
            self.chunks.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BREAKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML document or fragment, squashed."""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    return squash("".join(parser.chunks))


def visible_parts(message: Message) -> dict[str, str]:
    """``{"text": ..., "html": ...}`` (html only when the message has one), each squashed."""
    parts = {"text": squash(message.text)}
    if message.html is not None:
        parts["html"] = html_to_text(message.html)
    return parts
