"""Arbitrary content survives the trip: TierII message -> SDK (JSON, HMAC-signed) -> HTTP ->
the local ACS."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_azure.provider import AzureProvider
from tierii_azure.settings import AzureSettings
from tierii_azure.testing import LocalAcs
from tierii_azure.testing.fixtures import FAST_FIELDS
from tierii_core.models import Address, Credentials, Secret, Status
from tierii_core.testing.messages import make_message

# one line of any printable Unicode: subjects, names and header values are single lines
line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=120)
body = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400)


@pytest.fixture(scope="module")
def acs() -> Iterator[LocalAcs]:
    with LocalAcs() as server:
        yield server


@pytest.fixture(scope="module")
def provider(acs: LocalAcs) -> Iterator[AzureProvider]:
    settings_ = AzureSettings(connection_string=Secret(acs.connection_string()), **FAST_FIELDS)
    with AzureProvider(settings_, Credentials()) as opened:
        yield opened


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=line, name=line, text=body, html=st.none() | body, header=line)
def test_subject_text_html_names_and_headers_arrive_unchanged(
    acs: LocalAcs, provider: AzureProvider, subject: str, name: str, text: str, html: str | None, header: str
) -> None:
    start = len(acs.accepted)
    message = attrs.evolve(
        make_message("zoe@example.com"),
        subject=subject,
        text=text,
        html=html,
        to=Address("zoe@example.com", name),
        headers=(("X-Campaign-Note", header),),
    )
    [outcome] = provider.send([message])
    assert outcome.status is Status.SENT, outcome
    [got] = acs.accepted[start:]
    assert (got.subject, got.text, got.html) == (subject, text, html)
    assert got.recipient_name == (name or None)
    assert got.headers == {"X-Campaign-Note": header}
