"""The rule gate and the suppression list, end to end through `tierii send` and `tierii status`."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli

DEMO_ENV = Path(__file__).resolve().parents[2] / "examples" / ".env.example"
FOOTER = "{{sender_address}}\nUnsubscribe: {{unsubscribe_url}}\n"


def tierii(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--env-file", str(DEMO_ENV), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "c.csv"
    path.write_text("email,name,vip\na@example.com,A,yes\nb@example.com,B,\nc@blocked.example,C,yes\n")
    return path


def template(tmp_path: Path, body: str, html: str | None = None) -> list[str]:
    path = tmp_path / "t.mustache"
    path.write_text(f"Subject: Hi {{{{name}}}}\nFrom: shop@example.com\n\nAdvertisement\n{body}")
    args = ["-t", str(path)]
    if html is not None:
        (tmp_path / "t.html.mustache").write_text(html)
        args += ["--html", str(tmp_path / "t.html.mustache")]
    return args


def delivered(outbox: Path) -> set[str]:
    if not outbox.exists():
        return set()
    box = mailbox.Maildir(str(outbox), factory=None, create=False)
    return {box.get_message(k)["To"].split("<")[-1].rstrip(">") for k in box.iterkeys()}


def test_a_compliant_template_is_sent_with_both_rfc_8058_headers(
    tmp_path: Path, contacts: Path, clean_environment: Path
) -> None:
    code, out, _ = tierii("send", str(contacts), *template(tmp_path, FOOTER))
    assert code == 0
    box = mailbox.Maildir(str(clean_environment / "outbox"), factory=None, create=False)
    for key in box.iterkeys():
        message = box.get_message(key)
        assert message["List-Unsubscribe"].startswith("<https://greenleaf.example/unsubscribe?t=")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"][1:-1] in message.get_payload(decode=True).decode()
    assert "rules checked: one-click-unsubscribe, unsubscribe-link, postal-address, ad-notice" in out


@pytest.mark.parametrize(
    ("body", "html", "rule"),
    [
        ("{{sender_address}}\n", None, "unsubscribe-link"),
        ("Unsubscribe: {{unsubscribe_url}}\n", None, "postal-address"),
        (FOOTER, "<p>Advertisement {{sender_address}}</p>", "unsubscribe-link"),
        (FOOTER, '<p>Advertisement <a href="{{unsubscribe_url}}">stop</a></p>', "postal-address"),
    ],
)
def test_a_template_that_breaks_a_rule_is_refused_before_anything_is_sent(
    tmp_path: Path, contacts: Path, clean_environment: Path, body: str, html: str | None, rule: str
) -> None:
    args = template(tmp_path, body, html)
    code, _, err = tierii("send", str(contacts), *args)
    assert code == 2
    assert f"error: rule {rule} refuses template {args[1]}" in err
    assert delivered(clean_environment / "outbox") == set()
    assert tierii("send", str(contacts), *args, "--dry-run")[0] == 2
    assert tierii("preview", str(contacts), *args)[0] == 2


def test_without_unsubscribe_settings_marketing_mail_is_refused(tmp_path: Path, contacts: Path) -> None:
    path = tmp_path / "t.mustache"
    path.write_text("Subject: x\nFrom: shop@example.com\n\nhello\n")
    result = CliRunner().invoke(cli, ["send", str(contacts), "-t", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "rule one-click-unsubscribe refuses" in result.stderr and "TIERII_UNSUBSCRIBE_URL" in result.stderr


def test_transactional_mail_skips_marketing_rules_but_not_suppression(
    tmp_path: Path, contacts: Path, clean_environment: Path
) -> None:
    assert tierii("suppress", "add", "@blocked.example")[0] == 0
    code, out, _ = tierii("send", str(contacts), *template(tmp_path, "Your receipt\n"), "--transactional")
    assert code == 0
    assert delivered(clean_environment / "outbox") == {"a@example.com", "b@example.com"}
    assert "rules checked: none" in out


def test_a_suppressed_address_or_domain_never_receives_mail(
    tmp_path: Path, contacts: Path, clean_environment: Path
) -> None:
    assert tierii("suppress", "add", "B@EXAMPLE.com", "@blocked.example")[0] == 0
    code, out, _ = tierii(
        "send", str(contacts), *template(tmp_path, FOOTER), "--report", "r.json", "--dry-run"
    )
    assert code == 0 and "dry run: 1 would be sent" in out and "suppressed: 2" in out
    code, out, _ = tierii("send", str(contacts), *template(tmp_path, FOOTER), "--report", "r.json")
    assert code == 0
    assert delivered(clean_environment / "outbox") == {"a@example.com"}
    report = json.loads((clean_environment / "r.json").read_text())
    assert report["excluded_by_reason"] == {"suppressed": 2}
    code, out, _ = tierii("status", "--json", "--list", "excluded")
    assert json.loads(out)["excluded_by_reason"] == {"suppressed": 2}
    excluded = json.loads(out)["recipients"]["excluded"]
    assert {(r["email"], r["reason"]) for r in excluded} == {
        ("b@example.com", "suppressed"),
        ("c@blocked.example", "suppressed"),
    }


def test_a_message_that_loses_its_link_in_a_section_fails_alone(
    tmp_path: Path, contacts: Path, clean_environment: Path
) -> None:
    body = "{{sender_address}}\n{{#vip}}Unsubscribe: {{unsubscribe_url}}{{/vip}}\n"
    code, out, _ = tierii("send", str(contacts), *template(tmp_path, body))
    assert code == 1
    assert delivered(clean_environment / "outbox") == {"a@example.com", "c@blocked.example"}
    assert "b@example.com: unsubscribe-link: the text part does not show {{unsubscribe_url}}" in out


# -- the advertisement notice (CAN-SPAM §7704(a)(5)(A)(i)): on by default for marketing ----------


def plain(tmp_path: Path, notice: str = "", html: str | None = None) -> list[str]:
    path = tmp_path / "ad.mustache"
    path.write_text(f"Subject: Hi {{{{name}}}}\nFrom: shop@example.com\n\nSpring offers.\n{notice}\n{FOOTER}")
    args = ["-t", str(path)]
    if html is not None:
        (tmp_path / "ad.html.mustache").write_text(html)
        args += ["--html", str(tmp_path / "ad.html.mustache")]
    return args


def people(tmp_path: Path, *consents: str) -> Path:
    path = tmp_path / "people.csv"
    rows = [f"p{i}@example.com,P{i},{c}" for i, c in enumerate(consents)]
    path.write_text("email,name,consent\n" + "\n".join(rows) + "\n")
    return path


def test_a_marketing_template_without_the_notice_is_refused_when_a_recipient_has_no_consent(
    tmp_path: Path, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_AD_NOTICE", "Advertisement")  # the default, as the demo settings say
    code, _, err = tierii("send", str(people(tmp_path, "no", "yes")), *plain(tmp_path))
    assert code == 2
    assert "error: rule ad-notice refuses template" in err
    assert "does not show the notice 'Advertisement' (CAN-SPAM, 15 U.S.C. §7704(a)(5)(A)(i)" in err
    assert "no consent on record for this recipient" in err
    assert delivered(clean_environment / "outbox") == set()


def test_the_notice_is_the_default_setting_and_is_found_case_insensitively_in_every_part(
    tmp_path: Path, clean_environment: Path
) -> None:
    from tierii_core.settings import CoreSettings

    assert CoreSettings().ad_notice == "Advertisement"
    html = '<p>ADVERTISEMENT {{sender_address}} <a href="{{unsubscribe_url}}">stop</a></p>'
    contacts = people(tmp_path, "", "")
    code, out, _ = tierii("send", str(contacts), *plain(tmp_path, "This is an advertisement.", html))
    assert code == 0, out
    assert "ad notice: 'Advertisement' required (recipients without consent on record)" in out
    hidden = '<p title="Advertisement">{{sender_address}} <a href="{{unsubscribe_url}}">stop</a></p>'
    code, _, err = tierii("send", str(contacts), *plain(tmp_path, "Advertisement", hidden), "--dry-run")
    assert code == 2 and "the html part does not show the notice 'Advertisement'" in err


def test_the_notice_is_waived_when_every_recipient_gave_consent(
    tmp_path: Path, clean_environment: Path
) -> None:
    contacts = people(tmp_path, "yes", "TRUE", "1", "2024-03-01", "2024-03-01T10:00:00Z")
    code, out, _ = tierii("send", str(contacts), *plain(tmp_path), "--report", "r.json")
    assert code == 0, out
    assert len(delivered(clean_environment / "outbox")) == 5
    assert "ad notice: waived (every recipient has consent on record)" in out
    report = json.loads((clean_environment / "r.json").read_text())
    assert report["notes"] == ["ad notice: waived (every recipient has consent on record)"]


def test_with_mixed_consent_only_the_recipients_without_it_need_the_notice(
    tmp_path: Path, clean_environment: Path
) -> None:
    contacts = people(tmp_path, "yes", "later", "no", "2024-02-30")
    code, out, _ = tierii("send", str(contacts), *plain(tmp_path))
    assert code == 1
    assert delivered(clean_environment / "outbox") == {"p0@example.com"}
    for failed in ("p1@example.com", "p2@example.com", "p3@example.com"):
        assert f"{failed}: ad-notice: the text part does not show the notice 'Advertisement'" in out
    assert (
        "ad notice: 'Advertisement' required for recipients without consent on record, "
        "waived for those with it" in out
    )


def test_transactional_mail_needs_no_notice(tmp_path: Path, clean_environment: Path) -> None:
    code, out, _ = tierii("send", str(people(tmp_path, "")), *plain(tmp_path), "--transactional")
    assert code == 0 and "ad notice" not in out
