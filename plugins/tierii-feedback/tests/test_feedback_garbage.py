"""Hypothesis: garbage, truncated and mangled reports never crash the reader: each message is
a report, "not a report", or Unreadable with a reason; processing one never raises."""

from __future__ import annotations

from pathlib import Path

from feedback_helpers import LINKS
from feedback_mailset import render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.feedback_store import COMPLAINT, HARD, SOFT, UNSUBSCRIBE
from tierii_feedback.reports import Report, Unreadable, classify

CORPUS = Path(__file__).parent / "corpus"
SAMPLES = [p.read_bytes() for p in sorted((CORPUS / "flufl-bounce").glob("*.txt"))] + [
    render(p.name, "ana@example.com", 1, links=LINKS) for p in sorted((CORPUS / "tierii").glob("*.eml"))
]
KINDS = {HARD, SOFT, COMPLAINT, UNSUBSCRIBE}


def read(raw: bytes) -> Report | None:
    try:
        report = classify(raw, unsubscribe_mailto="unsubscribe@shop.example", verify_token=LINKS.verify)
    except Unreadable as exc:
        assert str(exc)  # always a reason to show
        return None
    # a complaint naming nobody leaves the address to the returned Message-ID (the processor's)
    assert all(f.kind in KINDS and ("@" in f.email or report.message_ids) for f in report.findings)
    assert all(i.startswith("<") and i.endswith(">") for i in report.message_ids)
    return report


@given(st.binary(max_size=4000))
def test_random_bytes_never_crash(raw: bytes) -> None:
    read(raw)


@given(st.sampled_from(SAMPLES), st.floats(0, 1))
def test_truncated_reports_never_crash(raw: bytes, fraction: float) -> None:
    read(raw[: int(len(raw) * fraction)])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=40)), max_size=8),
)
def test_mangled_reports_never_crash(raw: bytes, edits: list[tuple[float, bytes]]) -> None:
    data = bytearray(raw)
    for where, junk in edits:
        at = int(len(data) * where)
        data[at : at + len(junk)] = junk
    read(bytes(data))


HEADERS = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x",
        b"Content-Type: message/delivery-status",
        b"Content-Type: message/feedback-report",
        b"Content-Type: message/rfc822",
        b"Content-Type: text/rfc822-headers",
        b"Final-Recipient: rfc822; ana@example.com",
        b"Original-Rcpt-To: <>",
        b"Action: failed",
        b"Status: 5.1.1",
        b"Status: 9.9",
        b"Feedback-Type: abuse",
        b"To: unsubscribe@shop.example",
        b"From: =?utf-8?b?////?= <@>",
        b"--x",
        b"--x--",
        b"",
    ]
)


@given(st.lists(HEADERS, max_size=40))
def test_report_shaped_nonsense_never_crashes(lines: list[bytes]) -> None:
    read(b"\r\n".join(lines))
