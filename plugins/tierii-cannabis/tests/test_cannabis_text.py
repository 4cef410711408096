"""Visible text of HTML parts, white space and quotes normalised, URLs blanked for claims."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.model import for_claims
from tierii_cannabis.text import html_to_text, squash, visible_parts
from tierii_core.models import Message


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Licence <b>C10-0000001-LIC</b></p>", "Licence C10-0000001-LIC"),
        ("<p>one</p><p>two</p>", "one two"),  # block boundaries separate words
        ("line<br>break<br/>here", "line break here"),
        ("Fish &amp; chips &lt;3 &#8482; &nbsp;x", "Fish & chips <3 \u2122 x"),
        ('<a title="a > b" href="x">link</a>', "link"),  # '>' in an attribute is not the tag's end
        ("<style>p { color: red }</style><p>shown</p>", "shown"),
        ("<script>var candy = 1;</script>shown", "shown"),
        ("<html><head><title>Hidden</title></head><body>Body</body></html>", "Body"),
        ("<head><meta charset=utf-8><body>unclosed head</body>", "unclosed head"),
        ("<!-- a comment -->text", "text"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("it\u2019s \u201cquoted\u201d", 'it\'s "quoted"'),
    ],
)
def test_html_to_text_keeps_what_a_reader_sees(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_visible_parts_has_html_only_when_the_message_has_it(make_message: Callable[..., Message]) -> None:
    assert set(visible_parts(make_message(text="a\n\n b"))) == {"text"}
    parts = visible_parts(make_message(text="a\n\n b", html="<p>c</p>"))
    assert parts == {"text": "a b", "html": "c"}


def test_claims_are_not_looked_for_in_urls() -> None:
    scanned = for_claims(
        "Unsubscribe: https://shop.example/u?t=free-toys-candy mailto:candy@example.com done"
    )
    assert "candy" not in scanned and "toys" not in scanned
    assert scanned.endswith("done")


@given(st.text())
def test_any_text_is_read_as_html_without_error(markup: str) -> None:
    text = html_to_text(markup)
    assert text == squash(text)


@given(st.text(alphabet=st.characters(blacklist_characters="<&", blacklist_categories=("Cs",))))
def test_text_without_markup_is_only_squashed(text: str) -> None:
    assert html_to_text(text) == squash(text)


words = st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12)
tags = st.sampled_from(["p", "div", "span", "b", "a", "td", "li", "h1"])


@given(st.lists(st.tuples(tags, words), min_size=1, max_size=8))
def test_text_inside_tags_survives_stripping(pieces: list[tuple[str, str]]) -> None:
    markup = "".join(f'<{tag} class="x">{html.escape(word)}</{tag}> ' for tag, word in pieces)
    text = html_to_text(markup)
    assert text == " ".join(word for _, word in pieces)
    assert "<" not in text and "class" not in text
