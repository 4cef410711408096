"""Message bytes: every header and body parses back to what was rendered, whatever the text."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from email.header import decode_header, make_header

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tierii_core.mime import encode_header, one_line, serialize
from tierii_core.models import Address, Contact, Message

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


def make(
    subject: str = "Hi", name: str = "", body: str = "Hello\n", html: str | None = None, headers=()
) -> Message:
    contact = Contact("zoe@example.com", {})
    return Message(
        contact=contact,
        sender=Address("shop@example.com", "Green Leaf"),
        to=Address(contact.email, name),
        subject=subject,
        text=body,
        html=html,
        message_id="<1@example.com>",
        date=WHEN,
        headers=tuple(headers),
    )


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


@given(subject=text, name=text)
@example(subject="Hello\r\nBcc: victim@example.org", name="Eve\nX-Injected: yes")
@example(subject="=?utf-8?q?fake?=", name='"quoted" \\ name')
def test_subject_and_names_round_trip_and_never_add_headers(subject: str, name: str) -> None:
    data = serialize(make(subject=subject, name=name))
    head = data.split(b"\r\n\r\n", 1)[0]
    header_names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line and line[:1] not in b" \t"]
    assert header_names == [
        b"Date",
        b"From",
        b"To",
        b"Subject",
        b"Message-ID",
        b"MIME-Version",
        b"Content-Type",
        b"Content-Transfer-Encoding",
    ]
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), head
    parsed = parse(data)
    assert _squash(parsed["Subject"]) == _squash(one_line(subject))
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.com"
    # Python's address parser keeps the space between encoded words that RFC 2047 drops
    assert _bare(parsed["To"].addresses[0].display_name) == _bare(one_line(name))


@given(
    name=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=120).filter(str.strip)
)
def test_non_ascii_names_decode_exactly_by_rfc_2047(name: str) -> None:
    name = "é" + name  # force encoded words
    head = serialize(make(name=name)).split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ")
    to_value = next(line for line in unfolded.split("\r\n") if line.startswith("To: "))
    display = to_value.removeprefix("To: ").rsplit(" <zoe@example.com>", 1)[0]
    decoded = str(make_header(decode_header(display)))
    assert decoded == one_line(name).strip()


def _bare(value: str) -> str:
    return "".join(str(value).split())


def _squash(value: str) -> str:
    """Header folding may turn runs of white space into one space; compare without them."""
    return " ".join(str(value).split())


@given(body=text, html=st.none() | text)
def test_bodies_round_trip(body: str, html: str | None) -> None:
    parsed = parse(serialize(make(body=body, html=html)))
    normalised = body.replace("\r\n", "\n").replace("\r", "\n")
    if not normalised.endswith("\n"):
        normalised += "\n"  # a body always ends with a line break
    plain = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == normalised
    if html is not None:
        assert parsed.get_content_type() == "multipart/alternative"
        expected_html = html.replace("\r\n", "\n").replace("\r", "\n")
        expected_html += "" if expected_html.endswith("\n") else "\n"
        assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == expected_html
    else:
        assert parsed.get_content_type() == "text/plain"


def test_ascii_short_message_is_plain_7bit() -> None:
    data = serialize(make())
    assert b"Content-Transfer-Encoding: 7bit" in data
    assert b"Subject: Hi\r\n" in data
    assert b"From: Green Leaf <shop@example.com>" in data


def test_extra_headers_are_written_and_their_values_kept_on_one_line() -> None:
    data = serialize(make(headers=[("List-Unsubscribe", "<https://u.example/x>\r\nBcc: x@y")]))
    parsed = parse(data)
    assert parsed["List-Unsubscribe"] == "<https://u.example/x> Bcc: x@y"
    assert parsed["Bcc"] is None


def test_long_structured_headers_are_never_encoded() -> None:
    url = "https://unsubscribe.example/u?t=" + "x" * 150
    data = serialize(
        make(headers=[("List-Unsubscribe", f"<{url}>, <mailto:u@example.com?subject=unsubscribe>")])
    )
    assert f"List-Unsubscribe: <{url}>,\r\n <mailto:".encode() in data
    assert parse(data)["List-Unsubscribe"] == f"<{url}>, <mailto:u@example.com?subject=unsubscribe>"


def test_long_ascii_subject_folds_at_spaces() -> None:
    line = encode_header("Subject", " ".join(["word"] * 40))
    assert "\r\n " in line
    assert "=?" not in line


def test_long_ascii_lines_stay_7bit_up_to_998_and_non_ascii_addresses_are_refused() -> None:
    data = serialize(make(body="x" * 500 + "\n"))
    assert b"Content-Transfer-Encoding: 7bit" in data and b"x" * 500 in data
    assert b"quoted-printable" in serialize(make(body="x" * 999 + "\n"))
    contact = Contact("zoë@example.com", {})
    message = Message(contact, Address("s@example.com"), Address(contact.email), "s", "t", "<1@x>", WHEN)
    with pytest.raises(ValueError, match="not ASCII: it would need SMTPUTF8"):
        serialize(message)


#: long runs without spaces, ASCII specials and all: what a CRM field or a template may hold
long_text = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=70, max_size=4000),
    st.text(st.sampled_from('ab, "\\()<>@;:.é'), min_size=0, max_size=600),
    text,
)


@given(name=long_text, subject=long_text, sender_name=long_text, reply_name=long_text)
@example(name="x" * 3000, subject="y" * 3000, sender_name="Green Leaf", reply_name="")
@example(name='"' + "a,b" * 500, subject="Hi", sender_name="z" * 80, reply_name="w" * 999)
def test_every_header_line_fits_998_octets_and_parses_back(
    name: str, subject: str, sender_name: str, reply_name: str
) -> None:
    contact = Contact("zoe@example.com", {})
    message = Message(
        contact=contact,
        sender=Address("shop@example.com", sender_name),
        to=Address(contact.email, name),
        reply_to=Address("team@example.com", reply_name),
        subject=subject,
        text="Hello\n",
        message_id="<1@example.com>",
        date=WHEN,
    )
    data = serialize(message)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), max(head.split(b"\r\n"), key=len)
    parsed = parse(data)
    assert _squash(parsed["Subject"]) == _squash(one_line(subject))
    for header, address in (("From", message.sender), ("To", message.to), ("Reply-To", message.reply_to)):
        (got,) = parsed[header].addresses
        assert got.addr_spec == address.email
        assert _bare(got.display_name) == _bare(one_line(address.name)), header
