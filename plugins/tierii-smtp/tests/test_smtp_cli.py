"""The real ``tierii`` command, in a subprocess, sending through the smtp provider found by its
entry point to servers on 127.0.0.1: content, exit codes, TLS, log-in, ``tierii check``."""

from __future__ import annotations

import json
from collections import Counter
from html import escape

import pytest

pytestmark = pytest.mark.network

PASSWORD = "cli-Pw7#never-shown"


def _expected_subject(row: dict[str, str]) -> str:
    return f"{row['first_name']}, your {row['favorite']} order in {row['city']} is ready ✓"


def test_plugin_is_found_through_its_entry_point(campaign):
    result = campaign.tierii("plugins", "--json")
    assert result.returncode == 0, result.stderr
    [row] = [r for r in json.loads(result.stdout) if r["name"] == "tierii-smtp"]
    assert row["distribution"] == "tierii-smtp"
    assert "provider:smtp" in row["components"]
    assert "tierii_delivery_providers" in row["hooks"]


@pytest.mark.slow
def test_two_thousand_contacts_make_exactly_two_thousand_correct_messages(campaign, server):
    rows = campaign.contacts(2000)
    campaign.point_at(server.port, connections="4")
    result = campaign.send()

    assert result.returncode == 0, result.stderr
    assert Counter(server.recipients) == {row["email"]: 1 for row in rows}, "one message per recipient"
    by_recipient = {m.rcpt_tos[0]: m.message for m in server.messages}
    for row in rows:
        message = by_recipient[row["email"]]
        assert message["To"].addresses[0].addr_spec == row["email"]
        assert message["Subject"] == _expected_subject(row)
        assert message["From"].addresses[0].display_name == "Zoë's Shop"
        text = message.get_body(("plain",)).get_content()
        assert f"Hi {row['first_name']} {row['last_name']}," in text and row["code"] in text
        html = message.get_body(("html",)).get_content()
        assert f"<b>{escape(row['first_name'])} {escape(row['last_name'])}</b>" in html
    assert len({m.connection for m in server.messages}) == 4


def test_scripted_failures_deliver_every_deliverable_recipient_once(campaign, scripted_server, big_text):
    """421 at the first greeting, 451 once, 550 always for one, a reset in the middle of DATA."""
    server = scripted_server(pipelining=True)
    rows = campaign.contacts(12, big_for="person7@example.com")
    campaign.templates(big_text=big_text)
    server.greetings = ["421 4.3.2 too busy, try again later"]
    server.refuse_once["person3@example.com"] = "451 4.7.1 greylisted, come back later"
    server.refuse["person5@example.com"] = "550 5.1.1 <person5@example.com>: no such user here"
    server.drop_in_data_once.add("person7@example.com")
    campaign.point_at(server.port, connections="2")

    result = campaign.send("--report", "report.json")

    assert result.returncode == 1, result.stderr
    deliverable = [row["email"] for row in rows if row["email"] != "person5@example.com"]
    assert Counter(server.recipients) == dict.fromkeys(deliverable, 1)
    report = json.loads((campaign.root / "report.json").read_text())
    [failure] = report["failures"]
    assert failure["email"] == "person5@example.com"
    assert "550 5.1.1 <person5@example.com>: no such user here" in failure["reason"]
    assert (report["sent"], report["failed"], report["unknown"]) == (11, 1, 0)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_stops_with_exit_3_and_never_shows_it(campaign, scripted_server):
    server = scripted_server(credentials=("ann", "the-right-one"))
    campaign.contacts(5)
    campaign.point_at(server.port, username="ann", password=PASSWORD)

    result = campaign.send("--log-json")

    assert result.returncode == 3, result.stdout + result.stderr
    assert "authentication failed" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert server.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_untrusted_certificate_is_refused_unless_the_opt_out_is_set(campaign, scripted_server, server_tls):
    server = scripted_server(starttls=server_tls, credentials=("ann", PASSWORD))
    rows = campaign.contacts(3)
    campaign.point_at(server.port, security="starttls", username="ann", password=PASSWORD)

    refused = campaign.send()
    assert refused.returncode == 3, refused.stderr
    assert "TLS certificate" in refused.stderr and "TIERII_SMTP_INSECURE_SKIP_VERIFY" in refused.stderr
    assert server.messages == [] and server.auth_attempts == []

    campaign.env["TIERII_SMTP_INSECURE_SKIP_VERIFY"] = "true"
    accepted = campaign.send()
    assert accepted.returncode == 0, accepted.stderr
    assert "smtp.certificate_not_verified" in accepted.stderr
    assert sorted(server.recipients) == sorted(row["email"] for row in rows)
    assert PASSWORD not in refused.stdout + refused.stderr + accepted.stdout + accepted.stderr


def test_trusted_with_the_ca_file(campaign, scripted_server, server_tls, ca_file):
    server = scripted_server(implicit_tls=server_tls)
    rows = campaign.contacts(3)
    campaign.point_at(server.port, security="ssl", ca_file=str(ca_file))
    result = campaign.send()
    assert result.returncode == 0, result.stderr
    assert sorted(server.recipients) == sorted(row["email"] for row in rows)


def test_check_walks_every_step_and_masks_the_password(campaign, scripted_server, server_tls, ca_file):
    server = scripted_server(starttls=server_tls, credentials=("ann", PASSWORD))
    campaign.point_at(
        server.port, security="starttls", ca_file=str(ca_file), username="ann", password=PASSWORD
    )

    result = campaign.tierii("check", "--provider", "smtp")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    steps = [line.split(":", 1)[0] for line in lines if line.startswith("ok ")]
    assert [s.split()[-1] for s in steps] == [
        "settings",
        "connect",
        "ehlo",
        "starttls",
        "ehlo",
        "auth",
        "quit",
        "dkim",  # who signs: here the relay (TIERII_SMTP_RELAY_SIGNS, set by the campaign fixture)
    ]
    assert any("STARTTLS" in line and "capabilities" in line for line in lines)
    assert any("logged in as 'ann'" in line for line in lines)
    assert "TIERII_SMTP_PASSWORD = ********" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_check_shows_what_failed(campaign, scripted_server, server_tls):
    server = scripted_server(starttls=server_tls)
    campaign.point_at(server.port, security="starttls")
    result = campaign.tierii("check", "--provider", "smtp")
    assert result.returncode == 3
    [failed] = [line for line in result.stdout.splitlines() if "FAIL" in line]
    assert "starttls" in failed and "TLS certificate" in failed and "TIERII_SMTP_CA_FILE" in failed


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TIERII_SMTP_PORT", "smtp", "whole number"),
        ("TIERII_SMTP_SECURITY", "tls", "starttls, ssl or none"),
        ("TIERII_SMTP_CONNECTIONS", "0", "from 1 to 100"),
        ("TIERII_SMTP_HOST", "smtp.example.com:587", "TIERII_SMTP_PORT"),
    ],
)
def test_a_bad_setting_is_exit_2_naming_the_variable(campaign, server, variable, value, expected):
    campaign.contacts(2)
    campaign.point_at(server.port)
    campaign.env[variable] = value
    result = campaign.send()
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr and expected in result.stderr
    assert server.messages == []
