"""Visible text of HTML parts: the fast regular-expression reading agrees with html.parser's."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.visible import BREAKS, html_to_text, squash

HIDDEN = {"head", "script", "style", "template", "title"}


class Reference(HTMLParser):
    """What a reader sees, read by the standard library's forgiving parser (slow, obviously right)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.hidden = 0
        elif tag in HIDDEN:
            self.hidden += 1
        elif tag in BREAKS:
            self.chunks.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in BREAKS:
            self.chunks.append(" ")

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BREAKS:
            self.chunks.append(" ")

    def handle_data(self, data):
        if not self.hidden:
            self.chunks.append(data)


def reference(markup: str) -> str:
    parser = Reference()
    parser.feed(markup)
    parser.close()
    return squash("".join(parser.chunks))


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Licence <b>C10-0000001-LIC</b></p>", "Licence C10-0000001-LIC"),
        ("<p>one</p><p>two</p>", "one two"),
        ("line<br>break<br/>here", "line break here"),
        ("Fish &amp; chips &lt;3 &#8482; &nbsp;x", "Fish & chips <3 \u2122 x"),
        ('<a title="a > b" href="x">link</a>', "link"),
        ("<html><head><title>100 Main St</title></head><body>Body</body></html>", "Body"),
        ("<head><meta charset=utf-8><body>unclosed head</body>", "unclosed head"),
        ("<!-- 100 Main St -->text<script>hidden</script>", "text"),
        ("a <3 b> c", "a <3 b> c"),
        ("shown<title>unclosed, hidden to the end", "shown"),
    ],
)
def test_what_a_reader_sees(markup: str, text: str) -> None:
    assert html_to_text(markup) == text == reference(markup)


words = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="<>&"), max_size=12)
attribute = st.tuples(
    st.sampled_from(["class", "title", "href"]), st.text(st.sampled_from("ab >'&"), max_size=6)
)
tag = st.sampled_from(sorted(BREAKS | HIDDEN | {"b", "i", "span", "a", "em", "body"}))


@st.composite
def fragments(draw, depth: int = 0) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(["text", "entity", "element", "comment", "void"] if depth < 3 else ["text"])
        )
        if kind == "text":
            pieces.append(draw(words))
        elif kind == "entity":
            pieces.append(draw(st.sampled_from(["&amp;", "&lt;", "&#8482;", "&nbsp;", "&quot;"])))
        elif kind == "comment":
            pieces.append(f"<!--{draw(words)}-->")
        elif kind == "void":
            pieces.append(draw(st.sampled_from(["<br>", "<br/>", "<hr>", "<img src='x>y'>"])))
        else:
            name = draw(tag)
            attrs = "".join(
                f' {k}="{html.escape(v, quote=True)}"' for k, v in draw(st.lists(attribute, max_size=2))
            )
            # hidden elements hold text (a head: its title), never themselves: as in real mail
            inner = words if name in HIDDEN else fragments(depth + 1)
            pieces.append(f"<{name}{attrs}>{draw(inner)}</{name}>")
    return "".join(pieces)


@given(fragments())
def test_agrees_with_html_parser(markup: str) -> None:
    assert html_to_text(markup) == reference(markup)
