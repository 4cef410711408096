"""Reply classification and the queue id kept as the provider's message id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_smtp.replies import Reply, queue_id


@pytest.mark.parametrize(
    ("code", "transient", "permanent", "auth"),
    [
        (250, False, False, False),
        (421, True, False, False),
        (450, True, False, False),
        (451, True, False, False),
        (452, True, False, False),
        (550, False, True, False),
        (552, False, True, False),
        (554, False, True, False),
        (530, False, True, True),
        (535, False, True, True),
    ],
)
def test_classification(code, transient, permanent, auth):
    reply = Reply(code, "text")
    assert (reply.transient, reply.permanent, reply.auth_failure) == (transient, permanent, auth)
    assert reply.closing is (code == 421)
    assert reply.positive is (code == 250)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.0.0 Ok: queued as 4BxYz12abcD", "4BxYz12abcD"),  # Postfix
        ("OK id=1rAbcD-000123-Xy", "1rAbcD-000123-Xy"),  # Exim
        ("2.0.0 OK  1700000000 d9443c01a7336-1e2-gsmtp", "OK 1700000000 d9443c01a7336-1e2-gsmtp"),  # Gmail
        ("Ok", "Ok"),  # smtp-sink
    ],
)
def test_queue_id(text, expected):
    assert queue_id(Reply.parse(250, text.encode())) == expected


def test_multi_line_replies_are_joined():
    reply = Reply.parse(550, b"5.1.1 first line\n5.1.1 second   line")
    assert str(reply) == "550 5.1.1 first line 5.1.1 second line"


@given(st.binary(max_size=300))
def test_any_reply_text_parses_to_one_printable_line(raw):
    reply = Reply.parse(451, raw)
    assert "\n" not in str(reply) and "\r" not in str(reply)
    assert len(queue_id(reply)) <= 200 and queue_id(reply)
