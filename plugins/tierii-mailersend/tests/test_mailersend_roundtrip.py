"""Arbitrary content survives the trip: TierII message -> SDK -> HTTP -> the local MailerSend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.models import Address, Credentials, Message, Secret, Status
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import MailerSendSettings
from tierii_mailersend.testing import LocalMailerSend

# one line of any printable Unicode: subjects and names are single header lines
line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=120)
body = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400)


@pytest.fixture(scope="module")
def api() -> Iterator[LocalMailerSend]:
    with LocalMailerSend(bulk_delay=0.0, limits={"email": None, "bulk-email": None, "other": None}) as server:
        yield server


@pytest.fixture(scope="module")
def provider(api: LocalMailerSend) -> Iterator[MailerSendProvider]:
    secret = Secret(api.token)
    settings_ = MailerSendSettings(api_token=secret, base_url=api.base_url, poll_interval=0.001)
    with MailerSendProvider(settings_, Credentials(secret=secret)) as opened:
        yield opened


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subjects=st.lists(line.filter(str.strip), min_size=1, max_size=3),
    name=line,
    text=body,
    html=st.none() | body,
)
def test_subject_text_html_and_names_arrive_unchanged(
    api: LocalMailerSend,
    provider: MailerSendProvider,
    make_message: Callable[..., Message],
    subjects: list[str],
    name: str,
    text: str,
    html: str | None,
) -> None:
    start = len(api.messages)
    batch = [
        make_message(i, subject=subject, text=text, html=html, to=Address(f"user{i}@example.com", name))
        for i, subject in enumerate(subjects)
    ]
    outcomes = provider.send(batch)
    assert [o.status for o in outcomes] == [Status.SENT] * len(batch)
    received = {m.recipient: m for m in api.messages[start:]}
    for message in batch:
        got = received[message.to.email]
        assert (got.subject, got.text, got.html) == (message.subject, message.text, message.html)
        # MailerSend refuses a name with ; or , (422): the email goes without the name
        expected = name.strip() if not {";", ","} & set(name) else ""
        assert got.recipient_name == (expected or None)
