"""Proof sends and approvals, through the smtp provider to an aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from tierii_core.testing.smtp_sink import SmtpSink

pytestmark = pytest.mark.network

REVIEWERS = ["owner@shop.example", "counsel@firm.example"]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def journal_counts(campaign) -> dict[str, int] | None:
    result = campaign.tierii("status", "--json")
    return json.loads(result.stdout)["counts"] if result.returncode == 0 else None


def test_proofs_reach_every_reviewer_and_the_journal_is_untouched(campaign, sink) -> None:
    rows = campaign.contacts(6)
    campaign.point_at(sink.port)
    result = campaign.send("--proof", ",".join(REVIEWERS), "--proof-count", "3")
    assert result.returncode == 0, result.stderr
    assert "proof: 6 sent (3 recipients' messages to 2 reviewers" in result.stdout
    # several proofs to one reviewer are not "repeated addresses": each arrives
    assert Counter(sink.recipients) == {reviewer: 3 for reviewer in REVIEWERS}
    for received in sink.messages:
        message = received.message
        real = message["X-TierII-Proof-For"]
        row = next(r for r in rows if r["email"] == real)
        assert message["Subject"].startswith("[PROOF] " + row["first_name"])
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert row["code"] in message.get_body(("plain",)).get_content()  # the recipient's own message
    assert {m.message["X-TierII-Proof-For"] for m in sink.messages} == {r["email"] for r in rows[:3]}
    assert journal_counts(campaign) is None or sum(journal_counts(campaign).values()) == 0
    # the real send later goes to everyone, once
    sink.clear()
    result = campaign.send()
    assert result.returncode == 0, result.stderr
    assert Counter(sink.recipients) == {row["email"]: 1 for row in rows}
    assert all("[PROOF]" not in m.message["Subject"] for m in sink.messages)


def test_a_proof_of_a_template_the_rules_refuse_is_refused(campaign, sink) -> None:
    campaign.contacts(2)
    campaign.point_at(sink.port)
    campaign.templates()
    for name in ("offer.mustache", "offer.html.mustache"):  # no postal address any more
        path = campaign.root / name
        path.write_text(path.read_text(encoding="utf-8").replace("{{sender_address}}", ""), encoding="utf-8")
    result = campaign.send("--proof", REVIEWERS[0])
    assert result.returncode == 2
    assert "rule postal-address refuses template offer.mustache" in result.stderr
    assert sink.messages == []


def test_approval_is_required_bound_to_the_content_and_voided_by_an_edit(campaign, sink) -> None:
    rows = campaign.contacts(3)
    campaign.point_at(sink.port)
    campaign.env["TIERII_REQUIRE_APPROVAL"] = "true"
    refused = campaign.send()
    assert refused.returncode == 2 and "is not approved" in refused.stderr
    assert sink.messages == []

    proof = campaign.send("--proof", REVIEWERS[0])
    assert proof.returncode == 0, proof.stderr
    name = proof.stdout.split("tierii approve ")[1].split()[0]
    approved = campaign.tierii("approve", name, "--by", "Counsel")
    assert approved.returncode == 0, approved.stderr
    assert f"approved campaign {name} by Counsel" in approved.stdout

    template = campaign.root / "offer.mustache"
    template.write_text(template.read_text(encoding="utf-8") + "Edited after approval.\n", encoding="utf-8")
    voided = campaign.send()
    assert voided.returncode == 2
    assert "is not approved (the templates changed" in voided.stderr
    assert campaign.tierii("approve", name).returncode == 2  # the edit was never proofed

    sink.clear()
    assert campaign.send("--proof", REVIEWERS[0]).returncode == 0
    assert campaign.tierii("approve", name, "--by", "Counsel").returncode == 0
    sink.clear()
    sent = campaign.send()
    assert sent.returncode == 0, sent.stderr
    assert Counter(sink.recipients) == {row["email"]: 1 for row in rows}
    report = campaign.tierii("report", name, "--json", "report.json")
    assert report.returncode == 0, report.stderr
    data = json.loads((campaign.root / "report.json").read_text(encoding="utf-8"))
    assert data["approval"]["approved_by"] == "Counsel"


def test_a_bad_proof_address_is_a_usage_error(campaign, sink) -> None:
    campaign.contacts(1)
    campaign.point_at(sink.port)
    result = campaign.send("--proof", "owner@shop.example,not-an-address")
    assert result.returncode == 2
    assert "--proof: 'not-an-address' is not an email address" in result.stderr
    assert sink.messages == []
