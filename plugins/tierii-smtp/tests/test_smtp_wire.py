"""The DATA payload: dot-stuffing is transparent and nothing in a message can end DATA early."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_smtp import wire

_line_ends = re.compile(rb"\r\n|\r|\n")


def unstuff(payload: bytes) -> bytes:
    """What a server rebuilds from a payload (RFC 5321 section 4.5.2)."""
    assert payload.endswith(b"\r\n.\r\n") or payload == b".\r\n"
    body = payload[:-3]
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in body.split(b"\r\n"))


_pieces = st.lists(
    st.sampled_from([b".", b"..", b"\r\n", b"\r", b"\n", b"\r\n.\r\n", b"x", b" ", b"\xc3\xa9"])
)


@given(st.one_of(_pieces.map(b"".join), st.binary(max_size=300)))
def test_the_server_rebuilds_the_message_with_crlf_line_ends(message):
    payload = wire.payload(message)
    expected = _line_ends.sub(b"\r\n", message)
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert unstuff(payload) == expected


@given(st.one_of(_pieces.map(b"".join), st.binary(max_size=300)))
def test_only_the_last_line_ends_the_data(message):
    payload = wire.payload(message)
    lines = payload.split(b"\r\n")
    assert lines[-2:] == [b".", b""], "the payload ends with the '.' line"
    assert b"." not in lines[:-2], "no other line is a lone dot"
    assert b"\r" not in payload.replace(b"\r\n", b"") and b"\n" not in payload.replace(b"\r\n", b""), (
        "no bare CR or LF (SMTP smuggling)"
    )


def test_a_message_already_in_crlf_is_only_stuffed():
    assert (
        wire.payload(b"Subject: x\r\n\r\n.hidden\r\nend\r\n") == b"Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n"
    )


@pytest.mark.parametrize(
    "address",
    ["a@b.example>\r\nRCPT TO:<c@d.example", "a b@example.com", "<a@example.com>", "", "tab\t@example.com"],
)
def test_addresses_that_would_break_a_command_are_refused(address):
    with pytest.raises(wire.EnvelopeError, match="cannot be used in an SMTP command"):
        wire.address(address, "recipient")


def test_non_ascii_addresses_are_refused_with_the_reason():
    with pytest.raises(wire.EnvelopeError, match="SMTPUTF8"):
        wire.address("zoë@example.com", "recipient")


def test_commands():
    assert wire.mail_from(b"a@example.com", None) == b"MAIL FROM:<a@example.com>\r\n"
    assert wire.mail_from(b"a@example.com", 2048) == b"MAIL FROM:<a@example.com> SIZE=2048\r\n"
    assert wire.rcpt_to(b"b@example.com") == b"RCPT TO:<b@example.com>\r\n"
