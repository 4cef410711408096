"""The text a reader sees in each part of a message, normalised for pattern matching.

What is visible is the core's reading (:mod:`tierii_core.visible`: hidden elements dropped,
a ``>`` in an attribute never leaks, entities decoded). On top of it, every run of white
space becomes one space and typographic quotes become plain ones, so a pack pattern written
with a single space and ``'`` matches across line breaks and curly apostrophes.
"""

from __future__ import annotations

import re

from tierii_core import visible
from tierii_core.models import Message

_SPACE = re.compile(r"\s+")
_URL = re.compile(r"\b(?:https?|mailto):\S+", re.I)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def squash(text: str) -> str:
    """White space collapsed to single spaces, typographic quotes made plain, ends stripped."""
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip()


def without_urls(text: str) -> str:
    """``text`` with URLs blanked: link tokens and tracking parameters are not claims."""
    return _URL.sub(" ", text)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML document or fragment (the core's reading), normalised."""
    return squash(visible.html_to_text(markup))


def visible_parts(message: Message) -> dict[str, str]:
    """``{"text": ..., "html": ...}`` (html only when the message has one), each normalised.

    The core works each message's visible text out once for every rule that reads it.
    """
    return {part: squash(text) for part, text in visible.visible_parts(message).items()}
