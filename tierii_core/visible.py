"""What a reader sees in each part of a message: for rules that look for required text."""

from __future__ import annotations

import functools
import html
import re

from tierii_core.models import Message

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)


def html_to_text(markup: str) -> str:
    """Tags, comments, scripts and styles removed; entities decoded; white space collapsed."""
    return squash(html.unescape(_TAGS.sub(" ", markup)))


def squash(text: str) -> str:
    """White space runs as one space, ends trimmed (split/join: 4x faster than a regex)."""
    return " ".join(text.split())


def visible_parts(message: Message) -> dict[str, str]:
    """``{"text": ..., "html": ...}``: each part's visible text (html only when there is one)."""
    return dict(_visible(message.text, message.html))


@functools.lru_cache(maxsize=16)
def _visible(text: str, markup: str | None) -> tuple[tuple[str, str], ...]:
    """Several rules read one message: work it out once (str hashes are cached by Python)."""
    parts = [("text", squash(text))]
    if markup is not None:
        parts.append(("html", html_to_text(markup)))
    return tuple(parts)


def links_in_html(markup: str) -> set[str]:
    """Every ``href`` target of the HTML part, entities decoded."""
    return {html.unescape(m) for m in re.findall(r"""href\s*=\s*["']([^"']*)["']""", markup, re.I)}
