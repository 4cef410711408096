"""What a person reads at the end of a run and in a preview: figures that add up, text decoded."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tierii_core.cli.preview import _readable
from tierii_core.default_plugins import observers
from tierii_core.default_plugins.observers import print_summary
from tierii_core.models import Address, Contact, Message, Outcome, RunInfo, RunSummary, Status


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


def _run_info(total: int | None, estimate=None) -> RunInfo:
    started = datetime.now(timezone.utc)
    return RunInfo("c", "c.csv", "t.mustache", ("outbox",), False, started, total, estimate)


def _outcomes(n: int) -> list[Outcome]:
    return [Outcome(f"r{i}@example.com", Status.SENT) for i in range(n)]


def test_without_a_total_the_bar_counts_and_shows_the_rate_then_fills_the_total_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(observers, "ESTIMATE_EVERY", 0.0)
    known: list[int | None] = [None]  # a pipe: no estimate until the source has read everything
    run = _run_info(None, lambda: known[0])
    display = observers._Display(run, terminal=True)
    try:
        display.advance(run, _outcomes(40))
        task = display.progress.tasks[0]
        assert task.total is None and task.completed == 40  # a count and a rate, no total
        assert task.fields["rate"] > 0
        known[0] = 90
        display.advance(run, _outcomes(40))
        assert display.progress.tasks[0].total == 90  # filled in once the source knows it
    finally:
        display.stop(complete=True)
    assert display.progress.tasks[0].total == 80 == display.progress.tasks[0].completed


def test_an_estimate_that_falls_short_grows_with_the_count_and_an_early_stop_keeps_the_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(observers, "ESTIMATE_EVERY", 0.0)
    run = _run_info(50, lambda: 120)
    display = observers._Display(run, terminal=True)
    try:
        display.advance(run, _outcomes(30))
        assert display.progress.tasks[0].total == 120  # the source's fresher estimate
        display.advance(run, _outcomes(100))
        assert display.progress.tasks[0].total == 130  # never below what was done
    finally:
        display.stop(complete=False)  # stopped early: not "done"
    assert display.progress.tasks[0].total == 130 and display.total == 130


def test_off_a_terminal_progress_events_carry_the_total_as_it_becomes_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from structlog.testing import capture_logs

    monkeypatch.setattr(observers, "ESTIMATE_EVERY", 0.0)
    monkeypatch.setattr(observers, "PLAIN_PROGRESS_EVERY", 0.0)
    known: list[int | None] = [None]
    run = _run_info(None, lambda: known[0])
    display = observers._Display(run, terminal=False)
    with capture_logs() as events:
        display.advance(run, _outcomes(10))
        known[0] = 25
        display.advance(run, _outcomes(10))
    assert [(e["done"], e["total"]) for e in events] == [(10, None), (20, 25)]
