"""A send reads its source once: a source whose records can be read only once still sends
them all, and the progress total comes from that one pass (never from a second read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierii_core import hookimpl
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.models import Outcome, SourceRecord
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader

COUNT = 250


class OnceSource(ContactSource):
    """Records that can be read once, like a pipe: a second iteration raises."""

    name = "once"
    patterns = ("once:*",)
    iterations = 0
    read = 0

    def estimate_count(self) -> int | None:
        return OnceSource.read or None  # what it has read so far: no look ahead

    def __iter__(self):
        OnceSource.iterations += 1
        if OnceSource.iterations > 1:
            raise AssertionError("the source was read a second time")
        for i in range(COUNT):
            OnceSource.read += 1
            yield SourceRecord({"email": f"r{i}@example.com", "name": f"R{i}"}, f"once:{i + 1}")


class Collecting(DeliveryProvider):
    name = "collecting"
    max_batch = 20
    delivered: list[str] = []

    def send(self, messages):
        Collecting.delivered += [m.contact.email for m in messages]
        return [Outcome.sent(m, self.name, f"id-{m.contact.email}") for m in messages]


class Plugin:
    totals: list = []

    @hookimpl
    def tierii_contact_sources(self):
        return [OnceSource]

    @hookimpl
    def tierii_delivery_providers(self):
        return [Collecting]

    @hookimpl
    def tierii_run_started(self, run):
        Plugin.totals = [run.total]

    @hookimpl
    def tierii_batch_finished(self, run, outcomes):
        Plugin.totals.append(run.estimate())


@pytest.fixture(autouse=True)
def template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    OnceSource.iterations = OnceSource.read = 0
    Collecting.delivered = []
    monkeypatch.setenv("TIERII_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TIERII_TRANSACTIONAL", "true")
    path = tmp_path / "t.mustache"
    path.write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello {{name}}\n")
    return path


def _campaign(template: Path, **options) -> Campaign:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Plugin())
    campaign = Campaign(
        pm, SettingsReader({"TIERII_PROVIDER": "collecting"}), SendOptions("once:x", template, **options)
    )
    campaign.prepare(need_provider=not options.get("dry_run", False))
    return campaign


def test_a_source_that_can_be_read_once_sends_every_record(template: Path) -> None:
    summary = _campaign(template).run()
    assert summary.sent == COUNT and summary.exit_code == 0
    assert Collecting.delivered == [f"r{i}@example.com" for i in range(COUNT)]  # each once, in order
    assert OnceSource.iterations == 1


def test_a_dry_run_reads_the_source_once_too(template: Path) -> None:
    summary = _campaign(template, dry_run=True).run()
    assert summary.rendered == COUNT and OnceSource.iterations == 1


def test_the_total_starts_from_what_the_opening_check_read_and_grows_as_the_source_is_read(
    template: Path,
) -> None:
    _campaign(template).run()
    started, *later = Plugin.totals
    assert started is not None and started < COUNT  # the opening check read a few records, not all
    assert later == sorted(later) and later[-1] == COUNT  # sharpened as it read; exact at the end
