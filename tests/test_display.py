"""What a person reads at the end of a run and in a preview: figures that add up, text decoded."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tierii_core.cli.preview import _readable
from tierii_core.default_plugins.observers import print_summary
from tierii_core.models import Address, Contact, Message, RunSummary


def test_a_dry_runs_error_rate_is_failures_over_the_recipients_it_rendered(
    capsys: pytest.CaptureFixture,
) -> None:
    summary = RunSummary(campaign="c", dry_run=True, rendered=21, failed=1, excluded=3)
    assert summary.attempted == 22
    assert summary.error_rate == pytest.approx(1 / 22)
    print_summary(summary)
    out = capsys.readouterr().out
    assert "dry run: 21 would be sent" in out
    assert "error rate: 4.5%\n" in out


def test_a_real_runs_error_rate_counts_neither_excluded_nor_skipped() -> None:
    summary = RunSummary(campaign="c", sent=3, failed=1, excluded=5, skipped=7)
    assert summary.error_rate == pytest.approx(1 / 4)


def _message(**changes: object) -> Message:
    values: dict = {
        "contact": Contact("zoe@example.com"),
        "sender": Address("hello@greenleaf.example", "Grüne Blätter"),
        "to": Address("zoe@example.com", "Zoë Müller"),
        "subject": "Zoë, ça y est",
        "text": "Hi\n",
        "message_id": "<1@greenleaf.example>",
        "date": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "reply_to": Address("team@greenleaf.example", "Équipe, Green Leaf"),
    }
    values.update(changes)
    return Message(**values)


def test_preview_shows_addresses_decoded_as_it_shows_the_subject() -> None:
    shown = _readable(_message())
    assert "=?" not in shown
    assert "From: Grüne Blätter <hello@greenleaf.example>\n" in shown
    assert "To: Zoë Müller <zoe@example.com>\n" in shown
    assert 'Reply-To: "Équipe, Green Leaf" <team@greenleaf.example>\n' in shown
    assert "Subject: Zoë, ça y est\n" in shown


def test_preview_keeps_a_display_name_on_one_line() -> None:
    shown = _readable(_message(to=Address("zoe@example.com", "Zoë\r\nBcc: x@evil.example")))
    assert 'To: "Zoë Bcc: x@evil.example" <zoe@example.com>\n' in shown
