"""What the server receives is exactly the message, whatever its text: parsed back with ``email``."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.mime import one_line
from tierii_core.models import Address, Status
from tierii_core.testing import make_message
from tierii_smtp import transaction
from tierii_smtp.provider import SmtpProvider

pytestmark = pytest.mark.network


@pytest.fixture(params=[False, True], ids=["plain", "pipelining"])
def any_server(request, scripted_server):
    return scripted_server(pipelining=request.param)


def test_text_and_html_parts_subject_and_names_arrive_intact(any_server, settings_for):
    messages = [
        make_message(
            f"zoe{i}@example.com",
            name=f"Zoë Çelik {i}",
            subject=f"Ваш заказ №{i} готов, Zoë ✓",
            text=f"Hello Zoë {i},\n\n.a line that starts with a dot\n.\nand a lone dot above.\n",
            html=f"<p>Hello <b>Zoë {i}</b> &amp; friends</p>\n",
            sender=Address("shop@example.com", "Магазин Example"),
        )
        for i in range(7)
    ]
    with SmtpProvider(settings_for(any_server, connections=3), None) as provider:
        outcomes = provider.send(messages)

    assert [o.status for o in outcomes] == [Status.SENT] * 7
    assert all(o.provider_message_id and o.provider_message_id.startswith("Q") for o in outcomes)
    received = {m.rcpt_tos: m for m in any_server.messages}
    assert sorted(received) == sorted((m.contact.email,) for m in messages)
    for message in messages:
        got = received[(message.contact.email,)]
        assert got.mail_from == "shop@example.com"
        parsed = got.message
        assert parsed["To"].addresses[0].addr_spec == message.contact.email
        assert parsed["To"].addresses[0].display_name == message.to.name
        assert parsed["From"].addresses[0].display_name == "Магазин Example"
        assert parsed["Subject"] == message.subject
        assert parsed.get_content_type() == "multipart/alternative"
        # each part keeps its own last line break (an extra CRLF goes before each boundary)
        assert _text(parsed.get_body(("plain",))) == message.text
        assert _text(parsed.get_body(("html",))) == message.html


def test_a_slice_s_bytes_are_all_made_before_its_first_message_goes_out(any_server, settings_for):
    """Serializing and signing run in one go, not between the network's system calls (where
    a signed send cost a fifth more CPU: bench/dkim_signing.py)."""
    arrived_before: list[int] = []

    class Recording(SmtpProvider):
        def message_bytes(self, message):
            arrived_before.append(len(any_server.messages))
            return super().message_bytes(message)

    messages = [make_message(f"early{i}@example.com") for i in range(5)]
    with Recording(settings_for(any_server, connections=1), None) as provider:
        outcomes = provider.send(messages)

    assert [o.status for o in outcomes] == [Status.SENT] * 5
    assert arrived_before == [0] * 5
    assert [m.rcpt_tos for m in any_server.messages] == [(m.contact.email,) for m in messages]


def test_large_messages_are_made_a_run_at_a_time_not_all_held_at_once(any_server, settings_for, monkeypatch):
    monkeypatch.setattr(transaction, "RUN_BYTES", 3000)  # about one ~2.5 KB message a run
    arrived_before: list[int] = []

    class Recording(SmtpProvider):
        def message_bytes(self, message):
            arrived_before.append(len(any_server.messages))
            return super().message_bytes(message)

    messages = [make_message(f"big{i}@example.com", text="Hello there.\n" * 190) for i in range(6)]
    with Recording(settings_for(any_server, connections=1), None) as provider:
        outcomes = provider.send(messages)

    assert [o.status for o in outcomes] == [Status.SENT] * 6
    assert [m.rcpt_tos for m in any_server.messages] == [(m.contact.email,) for m in messages]
    assert arrived_before[-1] >= 3, arrived_before  # the last made after earlier ones went out


def test_a_thousand_messages_over_four_connections_each_arrive_once(server, settings_for):
    messages = [make_message(f"r{i}@example.com", subject=f"Number {i}") for i in range(1000)]
    with SmtpProvider(settings_for(server, connections=4), None) as provider:
        outcomes = [o for start in range(0, 1000, 100) for o in provider.send(messages[start : start + 100])]

    assert Counter(o.status for o in outcomes) == {Status.SENT: 1000}
    assert sorted(server.recipients) == sorted(m.contact.email for m in messages)
    assert len({m.connection for m in server.messages}) == 4, "the pool's four connections all carried mail"
    assert server.connections == 4, "connections are reused across batches, not opened per message"
    for got in server.messages:
        number = got.rcpt_tos[0][1:].split("@")[0]
        assert got.message["Subject"] == f"Number {number}"


_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)
_lines = st.lists(
    st.one_of(st.just("."), st.just(".."), st.just(""), st.text(max_size=30).map(lambda t: "." + t), _texts),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=st.text(st.characters(exclude_categories=("Cs",)), max_size=120),
    name=st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    lines=_lines,
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_text_arrives_byte_for_byte(server, settings_for, subject, name, lines, line_end):
    server.messages.clear()
    text = line_end.join(lines)
    message = make_message("any@example.com", name=name, subject=subject, text=text)
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        [outcome] = provider.send([message])

    assert outcome.status is Status.SENT, outcome
    [got] = server.messages
    assert got.data == message.as_bytes(), "the server must rebuild exactly the bytes serialised"
    parsed = got.message
    assert parsed["Subject"].strip() == one_line(subject).strip()
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert _text(parsed) == (expected if expected.endswith("\n") else expected + "\n")


def _text(part) -> str:
    """A text part's content with the line ends the text was written with (LF)."""
    return part.get_content().replace("\r\n", "\n")


def test_the_return_path_is_tagged_per_recipient(server, campaign) -> None:
    """TIERII_RETURN_PATH: MAIL FROM is the VERP address of each recipient (bounces name them)."""
    campaign.point_at(server.port)
    campaign.env["TIERII_RETURN_PATH"] = "bounces@shop.example"
    campaign.contacts(3)
    done = campaign.send()
    assert done.returncode == 0, done.stderr
    assert sorted(m.mail_from for m in server.messages) == [
        f"bounces+person{i}=example.com@shop.example" for i in range(3)
    ]
    assert all(m.message["From"].addresses[0].addr_spec == "shop@example.com" for m in server.messages)
