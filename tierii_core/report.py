"""``tierii report``: a campaign's record for people who were not there, a regulator among them.

What the journal knows (every recipient's outcome, time and reason) and what the campaign
store knows (templates' content hashes, rules and their versions, providers, segment,
approval), as one self-contained HTML file (inline CSS, the chart as inline SVG, a
Content-Security-Policy that forbids every fetch), a CSV of the recipients, or JSON.
The recipients are streamed to the file, never collected: a big campaign's report is big,
not a memory problem.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import IO, Any

from attrs import frozen

from tierii_core.campaign_store import Approval, CampaignStore, Identity
from tierii_core.journal import Record, SqliteJournal, reason_group
from tierii_core.models import ErrorKind, Status
from tierii_core.state import Where
from tierii_core.suppression import SuppressionList

#: bars in the sends-over-time chart at most
CHART_BARS = 48
KIND_MEANING = {
    ErrorKind.PERMANENT.value: "the recipient's own: address refused or invalid (final)",
    ErrorKind.MESSAGE.value: "the message could not be built or broke a rule (tried again next run)",
    ErrorKind.TRANSIENT.value: "the provider or the network (tried again next run)",
    "unrecorded": "recorded before failures had kinds (final)",
}
COLUMNS = (
    "email",
    "outcome",
    "time_utc",
    "reason",
    "failure_kind",
    "provider",
    "message_id",
    "attempts",
    "origin",
)


@frozen
class CampaignReport:
    """Everything but the recipient rows, which :meth:`rows` streams from the journal."""

    campaign: str
    generated_at: datetime
    source: str
    template: str
    first_run: datetime | None
    last_run: datetime | None
    identity: Identity | None
    approval: Approval | None
    counts: dict[str, int]
    excluded_by_reason: dict[str, int]
    failures_by_kind: dict[str, int]
    bounces: int
    complaints: int
    sends_over_time: tuple[tuple[datetime, datetime, int], ...]  # (from, to, sent)
    journal: SqliteJournal

    def rows(self) -> Iterator[dict[str, Any]]:
        for record in self.journal.recipients(self.campaign):
            yield _row(record)

    def as_dict(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "campaign": self.campaign,
            "generated_at": _iso(self.generated_at),
            "source": self.source,
            "template": self.template,
            "first_run": _iso(self.first_run),
            "last_run": _iso(self.last_run),
            "identity": None
            if identity is None
            else {
                "content_hash": identity.content_hash,
                "templates": [{"path": t.path, "sha256": t.sha256} for t in identity.templates],
                "rules": [{"name": n, "version": v} for n, v in identity.rules],
                "providers": list(identity.providers),
                "segment": list(identity.segment),
            },
            "approval": None
            if self.approval is None
            else {
                "approved_by": self.approval.approved_by,
                "approved_at": _iso(_utc(self.approval.approved_at)),
                "content_hash": self.approval.content_hash,
            },
            "counts": self.counts,
            "excluded_by_reason": self.excluded_by_reason,
            "failures_by_kind": self.failures_by_kind,
            "bounces": self.bounces,
            "complaints": self.complaints,
            "sends_over_time": [
                {"from": _iso(start), "to": _iso(end), "sent": count}
                for start, end, count in self.sends_over_time
            ],
        }


def build(state_dir: Where, campaign: str, journal: SqliteJournal) -> CampaignReport:
    """Gather the report of ``campaign`` (which the caller checked exists) from the state store."""
    store = CampaignStore(state_dir, read_only=True)
    try:
        identity = store.identity(campaign)
        approval = store.approval(campaign, identity.content_hash) if identity else None
        details = store.journal_campaign(campaign)
    finally:
        store.close()
    excluded: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    sent_times: list[float] = []
    sent_at: dict[str, float] = {}
    for record in journal.recipients(campaign):
        if record.state is Status.EXCLUDED:
            excluded[reason_group(record.last_error, record.code)] += 1
        elif record.state is Status.FAILED:
            kinds[record.failure or "unrecorded"] += 1
        elif record.state is Status.SENT:
            sent_times.append(record.updated_at)
            sent_at[record.email] = record.updated_at
    bounces, complaints = _feedback(state_dir, sent_at)
    source, template, created, last = details or ("", "", None, None)
    return CampaignReport(
        campaign=campaign,
        generated_at=datetime.now(timezone.utc),
        source=source,
        template=template,
        first_run=_utc(created),
        last_run=_utc(last),
        identity=identity,
        approval=approval,
        counts=journal.counts(campaign),
        excluded_by_reason=dict(excluded.most_common()),
        failures_by_kind=dict(kinds.most_common()),
        bounces=bounces,
        complaints=complaints,
        sends_over_time=_bins(sent_times),
        journal=journal,
    )


def _feedback(state_dir: Where, sent_at: dict[str, float]) -> tuple[int, int]:
    """Recipients of this campaign suppressed since, for a bounce or a complaint (provider webhooks)."""
    if not sent_at:
        return 0, 0
    suppressions = SuppressionList(state_dir, read_only=True)
    bounces = complaints = 0
    try:
        for entry in suppressions:
            when = sent_at.get(entry.entry)
            if when is None or entry.created_at < when:
                continue
            why = f"{entry.reason} {entry.source}".lower()
            if "complaint" in why:
                complaints += 1
            elif "bounce" in why:
                bounces += 1
    finally:
        suppressions.close()
    return bounces, complaints


def _bins(times: list[float]) -> tuple[tuple[datetime, datetime, int], ...]:
    if not times:
        return ()
    start, end = min(times), max(times)
    bars = min(CHART_BARS, int(end - start) + 1)  # bins of a second at least
    width = max((end - start) / bars, 1.0)
    counts = [0] * bars
    for moment in times:
        counts[min(int((moment - start) / width), bars - 1)] += 1
    return tuple(
        (_utc(start + i * width), _utc(start + (i + 1) * width), count)  # type: ignore[misc]
        for i, count in enumerate(counts)
    )


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _row(record: Record) -> dict[str, Any]:
    return {
        "email": record.email,
        "outcome": record.state.value,
        "time_utc": _iso(_utc(record.updated_at)),
        "reason": record.last_error or "",
        "failure_kind": record.failure or "",
        "provider": record.provider or "",
        "message_id": record.provider_message_id or "",
        "attempts": record.attempts,
        "origin": record.origin,
    }


# -- writers ------------------------------------------------------------------------------------


def write_json(report: CampaignReport, out: IO[str]) -> None:
    head = json.dumps(report.as_dict(), indent=2)
    out.write(head[:-2] + ',\n  "recipients": [')
    for index, row in enumerate(report.rows()):
        out.write(("," if index else "") + "\n    " + json.dumps(row))
    out.write("\n  ]\n}\n")


def write_csv(report: CampaignReport, out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows():
        writer.writerow(row)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2a1f;margin:0;
background:#f6f8f5}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #2f6b3a;padding-bottom:4px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.muted{color:#5b6b5e}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d5ddd3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e8efe6}
table.kv th{width:190px}
.counts{display:flex;flex-wrap:wrap;gap:10px;list-style:none;padding:0;margin:0}
.counts li{background:#fff;border:1px solid #d5ddd3;border-radius:6px;padding:8px 14px;min-width:90px}
.counts b{display:block;font-size:22px}
.sent b{color:#2f6b3a}.failed b{color:#b3261e}.excluded b{color:#8a6d00}.unknown b{color:#6b4fa0}
td.outcome-sent{color:#2f6b3a}td.outcome-failed{color:#b3261e}td.outcome-excluded{color:#8a6d00}
svg{background:#fff;border:1px solid #d5ddd3}
.ok{color:#2f6b3a}.warn{color:#b3261e}
@media print{body{background:#fff}main{max-width:none;padding:0}tr{break-inside:avoid}}
"""


def write_html(report: CampaignReport, out: IO[str]) -> None:
    e = html.escape
    out.write(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>TierII campaign report: {e(report.campaign)}</title>\n<style>{STYLE}</style></head>\n"
        "<body><main>\n"
        f"<h1>Campaign <code>{e(report.campaign)}</code></h1>\n"
        f'<p class="muted">Report generated {e(_iso(report.generated_at) or "")} by TierII '
        "from the campaign's journal. Times are UTC.</p>\n"
    )
    out.write(_identity_html(report))
    out.write('<h2>Counts</h2>\n<ul class="counts" id="counts">')
    for state, count in report.counts.items():
        out.write(f'<li class="{e(state)}" data-state="{e(state)}"><b>{count}</b>{e(state)}</li>')
    out.write("</ul>\n")
    out.write('<h2>Sends over time</h2>\n<div id="sends-over-time">' + _chart(report) + "</div>\n")
    out.write(
        _table("Exclusions by reason", "exclusions", ("reason", "recipients"), report.excluded_by_reason)
    )
    kinds = {f"{kind}: {KIND_MEANING.get(kind, '')}": n for kind, n in report.failures_by_kind.items()}
    out.write(_table("Failures by kind", "failures", ("kind", "recipients"), kinds))
    out.write(
        '<h2>Bounces and complaints</h2>\n<p id="feedback">'
        f"<b>{report.bounces}</b> bounced, <b>{report.complaints}</b> complained "
        '<span class="muted">(recipients of this campaign the suppression list has received since they were '
        "sent to, from provider webhooks; 0 when no webhook reports them)</span></p>\n"
    )
    total = sum(report.counts.values())
    out.write(
        f'<h2>Every recipient ({total})</h2>\n<table id="recipients"><thead><tr>'
        + "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in COLUMNS)
        + "</tr></thead>\n<tbody>\n"
    )
    for row in report.rows():
        cells = []
        for column in COLUMNS:
            value = e(str(row[column]))
            css = f' class="outcome-{value}"' if column == "outcome" else ""
            cells.append(f"<td{css}>{value}</td>")
        out.write("<tr>" + "".join(cells) + "</tr>\n")
    out.write("</tbody></table>\n</main></body></html>\n")


def _identity_html(report: CampaignReport) -> str:
    e = html.escape
    rows = [("Contacts", f"<code>{e(report.source)}</code>")]
    identity = report.identity
    if identity is None:
        rows.append(("Templates", f"<code>{e(report.template)}</code> (content hashes not recorded)"))
    else:
        templates = "<br>".join(
            f"<code>{e(t.path)}</code> sha256 <code>{e(t.sha256)}</code>" for t in identity.templates
        )
        rows += [
            ("Templates", templates),
            ("Content hash", f"<code>{e(identity.content_hash)}</code>"),
            ("Rules checked", ", ".join(f"{e(n)} {e(v)}" for n, v in identity.rules) or "none"),
            ("Provider", e(", ".join(identity.providers)) or "none"),
            ("Segment", "<br>".join(f"<code>{e(s)}</code>" for s in identity.segment) or "every contact"),
        ]
    if report.approval is not None:
        when = _iso(_utc(report.approval.approved_at)) or ""
        approval = f'<span class="ok">approved by {e(report.approval.approved_by)} at {e(when)}</span>'
    else:
        approval = '<span class="warn">not approved</span> (no sign-off of these templates\' content)'
    rows.append(("Approval", approval))
    rows.append(("Runs", f"first {e(_iso(report.first_run) or '?')}, last {e(_iso(report.last_run) or '?')}"))
    body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h2>Identity</h2>\n<table class="kv" id="identity">{body}</table>\n'


def _table(title: str, element_id: str, headings: tuple[str, str], counts: dict[str, int]) -> str:
    e = html.escape
    if not counts:
        return f'<h2>{e(title)}</h2>\n<p id="{element_id}">none</p>\n'
    rows = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    head = f"<tr><th>{e(headings[0])}</th><th>{e(headings[1])}</th></tr>"
    return (
        f'<h2>{e(title)}</h2>\n<table id="{element_id}"><thead>{head}</thead><tbody>{rows}</tbody></table>\n'
    )


def _chart(report: CampaignReport) -> str:
    """Sent messages per interval, as an inline SVG bar chart."""
    bins = report.sends_over_time
    if not bins:
        return '<p class="muted">nothing sent yet</p>'
    width, height, left, bottom, top = 900, 220, 50, 30, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(count for _, _, count in bins) or 1
    bar = plot_w / len(bins)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="messages sent over time, {sum(c for _, _, c in bins)} in all">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#5b6b5e"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, (start, end, count) in enumerate(bins):
        h = plot_h * count / peak
        x = left + index * bar
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#2f6b3a">'
            f"<title>{_iso(start)} to {_iso(end)}: {count} sent</title></rect>"
        )
    first, last = _iso(bins[0][0]) or "", _iso(bins[-1][1]) or ""
    parts += [
        f'<text x="{left}" y="{height - 8}" font-size="11">{html.escape(first)}</text>',
        f'<text x="{width - 10}" y="{height - 8}" font-size="11" text-anchor="end">'
        f"{html.escape(last)}</text>",
        "</svg>",
    ]
    return "".join(parts)
