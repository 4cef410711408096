"""Scripted server failures: each is classified, and the connection is reopened for the next message.

Retrying is the core's job: here the test resends what came back transient, as the core
would, and checks that every deliverable recipient arrives exactly once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from structlog.testing import capture_logs

from tierii_core.errors import FatalProviderError
from tierii_core.models import Status
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider

pytestmark = pytest.mark.network


@pytest.fixture(params=[False, True], ids=["plain", "pipelining"])
def server(request, scripted_server):
    return scripted_server(pipelining=request.param)


def _resend_transient(provider, messages, outcomes, rounds=3):
    """What the core's retry loop does, minus the backoff."""
    final = {o.email: o for o in outcomes}
    for _ in range(rounds):
        again = [m for m in messages if final[m.contact.email].is_transient]
        if not again:
            break
        final.update({o.email: o for o in provider.send(again)})
    return final


def test_421_at_the_greeting_then_ok(server, settings_for):
    server.greetings = ["421 4.3.2 too busy, try again later"]
    messages = [make_message(f"g{i}@example.com") for i in range(3)]
    with capture_logs() as logs, SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
    assert [o.status for o in outcomes] == [Status.SENT] * 3
    assert sorted(server.recipients) == sorted(m.contact.email for m in messages)
    [warning] = [e for e in logs if e["event"] == "smtp.not_ready"]
    assert "421 4.3.2 too busy" in warning["reason"]


def test_421_at_every_greeting_is_transient_for_every_message(server, settings_for):
    server.greetings = ["421 4.3.2 too busy, try again later"] * 10
    messages = [make_message(f"busy{i}@example.com") for i in range(4)]
    with SmtpProvider(settings_for(server, connections=2), None) as provider:
        outcomes = provider.send(messages)
    assert all(o.status is Status.FAILED and o.is_transient for o in outcomes), outcomes
    assert all("421 4.3.2 too busy" in o.reason for o in outcomes)
    assert server.messages == []


def test_a_5xx_greeting_is_fatal(server, settings_for):
    server.greetings = ["554 5.7.1 no mail from your network"]
    with pytest.raises(FatalProviderError, match=r"refuses to take mail from this machine: 554 5\.7\.1"):
        SmtpProvider(settings_for(server), None).open()


def test_451_on_rcpt_is_transient_then_delivered_once(server, settings_for):
    server.refuse_once["later@example.com"] = "451 4.3.0 greylisted, try again later"
    messages = [make_message(f"{x}@example.com") for x in ("before", "later", "after")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
        by_email = {o.email: o for o in outcomes}
        assert by_email["later@example.com"].is_transient
        assert (
            by_email["later@example.com"].reason == "451 4.3.0 greylisted, try again later (reply to RCPT TO)"
        )
        final = _resend_transient(provider, messages, outcomes)
    assert {o.status for o in final.values()} == {Status.SENT}
    assert Counter(server.recipients) == {m.contact.email: 1 for m in messages}


def test_550_fails_that_recipient_with_the_servers_text_and_the_rest_go_on(server, settings_for):
    server.refuse["nobody@example.com"] = (
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: no such user"
    )
    messages = [make_message(f"{x}@example.com") for x in ("first", "nobody", "second", "third")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
    by_email = {o.email: o for o in outcomes}
    failed = by_email.pop("nobody@example.com")
    assert failed.status is Status.FAILED and not failed.is_transient
    assert (
        failed.reason
        == "550 5.1.1 <nobody@example.com>: Recipient address rejected: no such user (reply to RCPT TO)"
    )
    assert {o.status for o in by_email.values()} == {Status.SENT}
    assert sorted(server.recipients) == sorted(by_email)
    assert server.connections == 1, "a refused recipient does not cost the connection"


def test_a_refusal_after_the_message_fails_it_and_the_next_goes_on(server, settings_for):
    """With pipelining the next envelope is already out when the refusal comes back."""
    server.refuse_data["spammy@example.com"] = "554 5.7.1 message content rejected"
    messages = [make_message(f"{x}@example.com") for x in ("first", "spammy", "third", "fourth")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
    by_email = {o.email: o for o in outcomes}
    refused = by_email.pop("spammy@example.com")
    assert refused.status is Status.FAILED and not refused.is_transient
    assert refused.reason == "554 5.7.1 message content rejected (reply to end of data)"
    assert {o.status for o in by_email.values()} == {Status.SENT}
    assert server.recipients == ["first@example.com", "third@example.com", "fourth@example.com"]
    assert server.connections == 1


def test_connection_reset_in_the_middle_of_data_is_transient_then_delivered_once(
    server, settings_for, big_text
):
    server.drop_in_data_once.add("big@example.com")
    messages = [make_message("big@example.com", text=big_text), make_message("next@example.com")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
        by_email = {o.email: o for o in outcomes}
        assert by_email["big@example.com"].is_transient
        assert "lost while sending the message" in by_email["big@example.com"].reason
        assert by_email["next@example.com"].status is Status.SENT, "the next message reconnects"
        assert server.recipients == ["next@example.com"]
        final = _resend_transient(provider, messages, outcomes)
    assert {o.status for o in final.values()} == {Status.SENT}
    assert Counter(server.recipients) == {"big@example.com": 1, "next@example.com": 1}
    assert server.connections == 2, "one reconnection, after the reset"


def test_connection_lost_after_the_end_of_data_is_unknown(server, settings_for):
    server.drop_after_data_once.add("maybe@example.com")
    messages = [make_message("maybe@example.com"), make_message("after@example.com")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
    by_email = {o.email: o for o in outcomes}
    assert by_email["maybe@example.com"].status is Status.UNKNOWN
    assert "may have been accepted" in by_email["maybe@example.com"].reason
    assert by_email["after@example.com"].status is Status.SENT
    assert server.recipients == ["maybe@example.com", "after@example.com"], "the server did take it"


def test_421_mid_session_is_transient_and_the_next_message_reconnects(server, settings_for):
    server.close_on_rcpt_once.add("closing@example.com")
    messages = [make_message(f"{x}@example.com") for x in ("one", "closing", "two")]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
        by_email = {o.email: o for o in outcomes}
        assert by_email["closing@example.com"].is_transient
        assert by_email["closing@example.com"].reason.startswith("421 4.4.2")
        assert by_email["two@example.com"].status is Status.SENT
        final = _resend_transient(provider, messages, outcomes)
    assert {o.status for o in final.values()} == {Status.SENT}
    assert Counter(server.recipients) == {m.contact.email: 1 for m in messages}
    assert server.connections == 2


def test_connections_closed_by_the_server_between_batches_are_reopened(server, settings_for):
    first = [make_message(f"first{i}@example.com") for i in range(6)]
    second = [make_message(f"second{i}@example.com") for i in range(6)]
    with SmtpProvider(settings_for(server, connections=3), None) as provider:
        assert {o.status for o in provider.send(first)} == {Status.SENT}
        server.hang_up_all()
        outcomes = provider.send(second)
        assert {o.status for o in outcomes} <= {Status.SENT, Status.FAILED}
        assert all(o.is_transient for o in outcomes if o.status is Status.FAILED)
        final = _resend_transient(provider, second, outcomes)
    assert {o.status for o in final.values()} == {Status.SENT}
    assert Counter(server.recipients) == {m.contact.email: 1 for m in first + second}


def test_a_message_over_the_servers_size_limit_fails_without_being_sent(scripted_server, settings_for):
    server = scripted_server(size_limit=10_000)
    messages = [make_message("huge@example.com", text="y" * 20_000), make_message("small@example.com")]
    with SmtpProvider(settings_for(server), None) as provider:
        outcomes = provider.send(messages)
    by_email = {o.email: o for o in outcomes}
    assert (
        by_email["huge@example.com"].status is Status.FAILED and not by_email["huge@example.com"].is_transient
    )
    assert "takes at most 10000" in by_email["huge@example.com"].reason
    assert server.recipients == ["small@example.com"]


def test_unreachable_server_at_open_is_fatal(closed_port, settings_for, server):
    settings = settings_for(server).__class__(host="127.0.0.1", port=closed_port, security="none")
    with pytest.raises(FatalProviderError, match=f"cannot reach 127.0.0.1:{closed_port}: connection refused"):
        SmtpProvider(settings, None).open()


def test_server_gone_mid_run_gives_transient_outcomes(server, settings_for):
    with SmtpProvider(settings_for(server, connections=2), None) as provider:
        assert {o.status for o in provider.send([make_message("early@example.com")])} == {Status.SENT}
        server.stop()
        outcomes = provider.send([make_message(f"late{i}@example.com") for i in range(4)])
    assert all(o.status is Status.FAILED and o.is_transient for o in outcomes), outcomes
    assert all(o.reason for o in outcomes)


def test_an_address_that_would_break_the_command_is_refused_before_sending(server, settings_for):
    message = make_message("evil@example.com>\r\nRCPT TO:<other@example.com")
    with SmtpProvider(settings_for(server), None) as provider:
        [outcome] = provider.send([message])
    assert outcome.status is Status.FAILED and not outcome.is_transient
    assert "cannot be used in an SMTP command" in outcome.reason
    assert server.messages == []
