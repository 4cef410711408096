"""Arbitrary content survives the trip: TierII message -> raw MIME -> boto3 -> HTTP -> moto's SES."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.models import Status
from tierii_core.testing.messages import make_message
from tierii_ses.provider import SesProvider
from tierii_ses.settings import SesSettings
from tierii_ses.testing import LocalSes

# one line of any printable Unicode: subjects and names are single header lines
line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=80)
body = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)


@pytest.fixture
def provider(local_ses: LocalSes) -> Iterator[SesProvider]:
    with SesProvider(SesSettings(region="us-east-1", max_send_rate=10000, timeout=10), None) as opened:
        yield opened


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=line.filter(str.strip), name=line, text=body, html=st.none() | body)
def test_subject_name_text_and_html_arrive_unchanged(
    local_ses: LocalSes, provider: SesProvider, subject: str, name: str, text: str, html: str | None
) -> None:
    before = len(local_ses.sent())
    message = make_message("ann@example.org", name=name, subject=subject, text=text, html=html)
    [outcome] = provider.send([message])
    assert outcome.status is Status.SENT, outcome
    [sent] = local_ses.sent()[before:]
    assert sent.destinations == ("ann@example.org",)
    # what SES received reads exactly as what TierII built (and the core's own round-trip
    # tests hold that to the message's fields)
    assert readable(sent.parsed) == readable(parse(message.as_bytes()))


def parse(raw: bytes) -> EmailMessage:
    return email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)  # type: ignore[return-value]


def readable(parsed: EmailMessage) -> tuple:
    html = parsed.get_body(("html",))
    return (
        str(parsed["Subject"]),
        str(parsed["From"]),
        str(parsed["To"]),
        parsed.get_body(("plain",)).get_content(),
        html.get_content() if html is not None else None,
    )
