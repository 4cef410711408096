"""End to end: `tierii send --rules cannabis-...` to the outbox, then `tierii status`.

These need the core's rule gate (`--rules` / `TIERII_RULES` on `send`, tierii-core issue 7).
Until the gate is in the CLI they fail with "--rules is not available in this version".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tierii_cannabis import plugin as cannabis_plugin
from tierii_core.cli import cli

LICENCE = "C10-0000001-LIC"
REPO = Path(__file__).resolve().parents[3]

TEMPLATE = """\
Subject: {{first_name}}, your {{favorite}} is back
From: Green Leaf <hello@greenleaf.example>

Hi {{first_name}}, {{favorite}} is back on our shelves.

--
Advertisement. For adults 21 and over. Licence {{license_number}}.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""
WITHOUT_LICENCE = TEMPLATE.replace("Licence {{license_number}}.", "")
assert WITHOUT_LICENCE != TEMPLATE and LICENCE not in TEMPLATE


def years_ago(years: int, days: int = 0) -> str:
    """The birthdate of someone who turns ``years`` in ``days`` days."""
    today = date.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # today is 29 February
        born = date(today.year - years, 3, 1)
    return date.fromordinal(born.toordinal() + days).isoformat()


@pytest.fixture
def campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with contacts, templates and the settings a marketing send needs."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "TIERII_PROVIDER": "outbox",
        "TIERII_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TIERII_STATE_DIR": str(tmp_path / "state"),
        "TIERII_CANNABIS_LICENSE_NUMBER": LICENCE,
        "TIERII_SENDER_ADDRESS": "Green Leaf, 100 Main Street, Sacramento, CA 95814",
        "TIERII_UNSUBSCRIBE_URL": "https://greenleaf.example/unsubscribe",
        "TIERII_UNSUBSCRIBE_SECRET": "test-secret-0123456789-0123456789",
        "TIERII_LOAD_PLUGINS": "tierii-csv,tierii-cannabis",
    }.items():
        monkeypatch.setenv(name, value)
    rows = [
        "email,first_name,favorite,state,birthdate,age_verified_at,consent",
        "ana@example.com,Ana,Blue Dream,CA,1988-04-12,,yes",
        f"young@example.com,Yael,OG Kush,CA,{years_ago(21, days=1)},,yes",  # 21 tomorrow
        "away@example.com,Will,Gelato,WA,1985-01-19,,yes",
        "nope@example.com,Nico,Runtz,CA,1990-09-09,,no",
        "vera@example.com,Vera,Mimosa,ca,,2024-05-01T10:00:00Z,2024-05-01",
        f"today@example.com,Tod,Tangie,CA,{years_ago(21)},,yes",  # 21 today
    ]
    (tmp_path / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "welcome.mustache").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "no-licence.mustache").write_text(WITHOUT_LICENCE, encoding="utf-8")
    return tmp_path


Run = Callable[..., Result]


@pytest.fixture
def tierii() -> Run:
    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def outbox(directory: Path) -> list[str]:
    return sorted(p.read_text(encoding="utf-8") for p in (directory / "outbox" / "new").glob("*"))


def status(tierii: Run, *states: str) -> dict[str, Any]:
    args = ["status", "--json"] + [f"--list={s}" for s in states]
    result = tierii(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def reasons(report: dict[str, Any], state: str) -> dict[str, str]:
    return {row["email"]: row["reason"] for row in report["recipients"][state]}


def test_california_pack_excludes_minors_and_other_states_with_reasons(campaign: Path, tierii: Run) -> None:
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 0, result.output
    report = status(tierii, "excluded", "sent")
    assert report["counts"]["sent"] == 3 and report["counts"]["excluded"] == 3
    assert {row["email"] for row in report["recipients"]["sent"]} == {
        "ana@example.com",
        "vera@example.com",
        "today@example.com",
    }
    excluded = reasons(report, "excluded")
    assert excluded["young@example.com"].startswith("cannabis-ca: under 21: born ")
    assert "Cal. Bus. & Prof. Code §26151(c)" in excluded["young@example.com"]
    assert excluded["away@example.com"].startswith("cannabis-ca: out of state: WA is not CA")
    assert excluded["nope@example.com"].startswith("cannabis-ca: no consent: consent is 'no'")
    messages = outbox(campaign)
    assert len(messages) == 3 and all(LICENCE in m for m in messages)


def test_a_template_without_the_licence_number_is_refused_before_sending(campaign: Path, tierii: Run) -> None:
    result = tierii("send", "contacts.csv", "-t", "no-licence.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 2, result.output
    assert "cannabis-ca" in result.output and "no-licence.mustache" in result.output
    assert f"licence number missing: the text part does not show {LICENCE}" in result.output
    assert not (campaign / "outbox" / "new").exists() or outbox(campaign) == []


def test_an_unset_licence_number_is_refused_with_the_variable_to_set(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the licence as literal text: {{license_number}} would fail each recipient when it is unset
    (campaign / "literal.mustache").write_text(
        TEMPLATE.replace("{{license_number}}", LICENCE), encoding="utf-8"
    )
    monkeypatch.delenv("TIERII_CANNABIS_LICENSE_NUMBER")
    result = tierii("send", "contacts.csv", "-t", "literal.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 2, result.output
    assert "cannabis-ca" in result.output and "set TIERII_CANNABIS_LICENSE_NUMBER" in result.output


def test_the_template_variable_of_an_unset_licence_number_names_the_setting(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERII_CANNABIS_LICENSE_NUMBER")
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 2, result.output
    assert "uses {{license_number}}, but TIERII_CANNABIS_LICENSE_NUMBER is not set" in result.output


def test_the_old_core_licence_setting_still_works_for_one_release_with_a_warning(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERII_CANNABIS_LICENSE_NUMBER")
    monkeypatch.setenv("TIERII_LICENSE_NUMBER", LICENCE)
    monkeypatch.setattr(cannabis_plugin, "_warned", set())
    with pytest.warns(DeprecationWarning, match="set TIERII_CANNABIS_LICENSE_NUMBER"):
        result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 0, result.output
    assert "settings.deprecated" in result.output and "TIERII_CANNABIS_LICENSE_NUMBER" in result.output
    assert all(LICENCE in m for m in outbox(campaign)) and len(outbox(campaign)) == 3
    check = tierii("check")
    assert "TIERII_LICENSE_NUMBER is deprecated" in check.stderr
    assert "TIERII_LICENSE_NUMBER is not a known setting" not in check.stderr


def test_rules_can_be_named_in_tierii_rules(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_RULES", "cannabis-ca")
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache")
    assert result.exit_code == 0, result.output
    assert status(tierii)["counts"]["excluded"] == 3


def test_a_later_message_with_a_banned_claim_fails_that_recipient(campaign: Path, tierii: Run) -> None:
    contacts = (campaign / "contacts.csv").read_text(encoding="utf-8")
    (campaign / "contacts.csv").write_text(
        contacts + "kim@example.com,Kim,Cotton Candy Kush,CA,1980-02-02,,yes\n", encoding="utf-8"
    )
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "cannabis-ca")
    assert result.exit_code == 1, result.output
    report = status(tierii, "failed")
    failed = reasons(report, "failed")
    assert list(failed) == ["kim@example.com"]
    assert "cannabis-ca" in failed["kim@example.com"] and "4 CCR §15040(a)(3)(D)" in failed["kim@example.com"]
    assert report["counts"]["sent"] == 3


def test_transactional_mail_checks_age_only(campaign: Path, tierii: Run) -> None:
    result = tierii(
        "send", "contacts.csv", "-t", "no-licence.mustache", "--rules", "cannabis-ca", "--transactional"
    )
    assert result.exit_code == 0, result.output
    excluded = reasons(status(tierii, "excluded"), "excluded")
    assert list(excluded) == ["young@example.com"]


def test_washington_pack_refuses_a_template_without_the_warnings(campaign: Path, tierii: Run) -> None:
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "cannabis-wa")
    assert result.exit_code == 2, result.output
    assert "cannabis-wa" in result.output and "required text missing" in result.output
    assert "WAC 314-55-155" in result.output


def test_a_pack_of_your_own_is_selected_by_its_name(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = campaign / "packs"
    packs.mkdir()
    (packs / "green-leaf.toml").write_text(
        'title = "Green Leaf: California, 25 and over"\nextends = "cannabis-ca"\nmin_age = 25\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TIERII_CANNABIS_PACK_DIR", str(packs))
    result = tierii("send", "contacts.csv", "-t", "welcome.mustache", "--rules", "green-leaf")
    assert result.exit_code == 0, result.output
    excluded = reasons(status(tierii, "excluded"), "excluded")
    assert excluded["today@example.com"].startswith("green-leaf: under 25: born ")


def test_the_readme_demo_passes_the_generic_pack(
    tmp_path: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/contacts.csv (CA, CO and WA adults who said yes) and the example templates."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", "tierii-csv,tierii-cannabis")
    examples = REPO / "examples"
    result = tierii(
        "--env-file",
        str(examples / ".env.example"),
        "send",
        str(examples / "contacts.csv"),
        "-t",
        str(examples / "welcome.mustache"),
        "--html",
        str(examples / "welcome.html.mustache"),
        "--rules",
        "cannabis-adult-use",
    )
    assert result.exit_code == 0, result.output
    counts = status(tierii)["counts"]
    assert counts["sent"] == 20 and counts["excluded"] == 0, counts


def test_preview_shows_exclusions_and_the_rules_checked(
    campaign: Path, tierii: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_RULES", "cannabis-ca")
    result = tierii("preview", "contacts.csv", "-t", "welcome.mustache", "-n", "6")
    assert result.exit_code == 0, result.output
    assert "excluded: cannabis-ca: under 21: born " in result.output
    assert "excluded: cannabis-ca: out of state: WA is not CA" in result.output
    assert "cannabis-ca" in result.output.splitlines()[-1]
