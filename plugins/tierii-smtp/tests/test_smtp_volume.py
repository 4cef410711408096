"""Volume against Postfix's smtp-sink (a real, fast, pipelining SMTP server): counts and content.

Skipped when ``/usr/sbin/smtp-sink`` is missing, unless TIERII_REQUIRE_SMTP_SINK=1 (CI).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tierii_core.models import Status
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider
from tierii_smtp.settings import SmtpSettings

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_five_thousand_messages_through_the_provider(smtp_sink_process):
    messages = [
        make_message(
            f"v{i}@example.com", name=f"Völ Ume {i}", subject=f"Nº {i} für Sie", text=f"Hello {i}\n" * 40
        )
        for i in range(5000)
    ]
    settings = SmtpSettings(host="127.0.0.1", port=smtp_sink_process.port, security="none", connections=4)
    with SmtpProvider(settings, None) as provider:
        outcomes = [o for start in range(0, 5000, 100) for o in provider.send(messages[start : start + 100])]
    assert Counter(o.status for o in outcomes) == {Status.SENT: 5000}

    received = smtp_sink_process.messages()
    assert len(received) == 5000
    assert Counter(m["X-Rcpt-Args"] for m in received) == {f"<v{i}@example.com>": 1 for i in range(5000)}
    for message in received:
        number = message["To"].addresses[0].addr_spec[1:].split("@")[0]
        assert message["Subject"] == f"Nº {number} für Sie"
        assert message["To"].addresses[0].display_name == f"Völ Ume {number}"


def test_three_thousand_contacts_through_tierii_send(smtp_sink_process, campaign):
    rows = campaign.contacts(3000)
    campaign.point_at(smtp_sink_process.port)
    result = campaign.send()
    assert result.returncode == 0, result.stderr

    received = smtp_sink_process.messages()
    assert Counter(m["X-Rcpt-Args"] for m in received) == {f"<{row['email']}>": 1 for row in rows}
    subjects = {m["X-Rcpt-Args"].strip("<>"): m["Subject"] for m in received}
    for row in rows:
        assert (
            subjects[row["email"]]
            == f"{row['first_name']}, your {row['favorite']} order in {row['city']} is ready ✓"
        )
