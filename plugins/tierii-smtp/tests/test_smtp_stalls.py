"""A server that stops answering: one timeout per connection, not per message, and an
interrupted run that returns at once instead of waiting on a socket."""

from __future__ import annotations

import threading

import pytest

from tierii_core.models import Status
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider

pytestmark = pytest.mark.network


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_a_stalled_server_costs_one_timeout_per_connection_not_one_per_message(
    scripted_server, settings_for, pipelining
):
    server = scripted_server(pipelining=pipelining)
    server.stall_after_data = True
    messages = [make_message(f"s{i}@example.com") for i in range(20)]
    with SmtpProvider(settings_for(server, connections=1, timeout=0.5), None) as provider:
        outcomes = provider.send(messages)
    # the first message went out whole and was never answered: it may have been accepted
    assert outcomes[0].status is Status.UNKNOWN
    # the others were never tried on that server: transient, for the core to retry later
    assert all(o.status is Status.FAILED and o.is_transient for o in outcomes[1:])
    assert all("stopped answering" in o.reason for o in outcomes[1:])
    assert len(server.messages) == 1
    assert server.connections == 1  # no reconnect per message, each waiting a whole timeout


def test_interrupt_unblocks_a_send_waiting_on_a_silent_server(scripted_server, settings_for):
    server = scripted_server()
    server.stall_after_data = True
    messages = [make_message(f"i{i}@example.com") for i in range(10)]
    # a timeout far longer than the test: only interrupt() can end the wait
    provider = SmtpProvider(settings_for(server, connections=2, timeout=600.0), None)
    provider.open()
    result: list = []
    sending = threading.Thread(target=lambda: result.append(provider.send(messages)))
    sending.start()
    assert server.stalled.wait(30)
    provider.interrupt()
    sending.join(30)  # a safety net for a broken build; the send returns at once
    assert not sending.is_alive()
    provider.close()
    [outcomes] = result
    in_flight = [o for o in outcomes if o.status is Status.UNKNOWN]
    assert 1 <= len(in_flight) <= 2  # one per connection at most had its data out
    assert {o.email for o in in_flight} <= {r.rcpt_tos[0] for r in server.messages}
    rest = [o for o in outcomes if o.status is not Status.UNKNOWN]
    assert rest and all(o.is_transient for o in rest)
    assert len(outcomes) == len(messages)
