"""With TIERII_RETURN_PATH, a bounce no parser can read still names its recipient through the
VERP address it was sent back to: a soft bounce (we cannot tell that it is permanent)."""

from __future__ import annotations

from feedback_mailset import render

from tierii_core.feedback_store import SOFT
from tierii_feedback.reports import NOT_A_REPORT, classify

RETURN_PATH = "bounces@shop.example"


def test_an_unreadable_bounce_to_a_verp_address_is_a_soft_bounce() -> None:
    raw = render("unknown-bounce-verp.eml", "ana@example.com", 1)
    assert classify(raw).kind == NOT_A_REPORT  # without VERP nobody could tell whose it is
    report = classify(raw, return_path=RETURN_PATH)
    assert [(f.email, f.kind) for f in report.findings] == [("ana@example.com", SOFT)]
    assert "unrecognised bounce to our VERP address: Returned mail" in report.findings[0].diagnostic


def test_an_auto_reply_to_the_verp_address_is_not_a_bounce() -> None:
    raw = render("unknown-bounce-verp.eml", "ana@example.com", 1).replace(
        b"Subject: Returned mail", b"Subject: Automatic reply: Your restock is in"
    )
    assert classify(raw, return_path=RETURN_PATH).kind == NOT_A_REPORT


def test_a_person_writing_to_the_verp_address_is_not_a_bounce() -> None:
    raw = render("unknown-bounce-verp.eml", "ana@example.com", 1).replace(
        b"From: MAILER-DAEMON@legacy-mta.example", b"From: Ana <ana@example.com>"
    )
    assert classify(raw, return_path=RETURN_PATH).kind == NOT_A_REPORT


def test_a_known_shape_keeps_its_own_reading() -> None:
    raw = render("gmail-5.1.1.eml", "ben@example.net", 2)
    assert [(f.email, f.kind) for f in classify(raw, return_path=RETURN_PATH).findings] == [
        ("ben@example.net", "hard")
    ]
