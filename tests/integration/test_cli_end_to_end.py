"""`tierii` end to end with the real tierii-csv distribution, found through its entry point."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import mailbox
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from tierii_core.cli import cli

DEMO_ENV = Path(__file__).resolve().parents[2] / "examples" / ".env.example"


def run(*args: str) -> tuple[int, str, str]:
    """`tierii` with the demo settings (compliance settings included)."""
    result = CliRunner().invoke(cli, ["--env-file", str(DEMO_ENV), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def outbox_messages(directory: Path) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(str(directory), factory=None, create=False)
    policy = email.policy.default
    return [email.message_from_bytes(box.get_bytes(key), policy=policy) for key in box.iterkeys()]


def test_tierii_csv_is_installed_as_a_distribution_with_an_entry_point() -> None:
    points = {ep.name: ep for ep in metadata.entry_points(group="tierii")}
    assert points["tierii-csv"].value == "tierii_csv.plugin"
    code, out, _ = run("plugins", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0
    assert rows["tierii-csv"]["version"] == metadata.version("tierii-csv")
    assert rows["tierii-csv"]["hooks"] == ["tierii_contact_sources"]
    assert rows["tierii-csv"]["components"] == ["source:csv"]


def test_the_readme_demo_delivers_one_personalised_message_per_contact(
    examples: Path, clean_environment: Path
) -> None:
    code, out, err = run(
        "send",
        str(examples / "contacts.csv"),
        "-t",
        str(examples / "welcome.mustache"),
        "--html",
        str(examples / "welcome.html.mustache"),
        "--report",
        "report.json",
    )
    assert code == 0, err
    with open(examples / "contacts.csv", encoding="utf-8") as handle:
        contacts = {row["email"]: row for row in csv.DictReader(handle)}
    messages = outbox_messages(clean_environment / "outbox")
    assert len(messages) == len(contacts) == 20
    for message in messages:
        address = message["To"].addresses[0]
        row = contacts[address.addr_spec]
        assert message["Subject"] == f"{row['first_name']}, your {row['favorite']} restock is in"
        assert address.display_name == f"{row['first_name']} {row['last_name']}"
        assert f"Hi {row['first_name']}," in message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"<p>Hi {row['first_name']},</p>" in html.replace("&amp;", "&") or "&amp;" in html
        assert message["Message-ID"].startswith("<") and message["Date"] is not None
    report = json.loads((clean_environment / "report.json").read_text())
    assert (report["sent"], report["failed"], report["exit_code"]) == (20, 0, 0)
    assert "sent: 20" in out


def test_a_csv_without_an_email_column_exits_2_naming_the_file(
    tmp_path: Path, examples: Path, clean_environment: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("name,mail\nAna,ana@example.com\n")
    code, _, err = run("send", str(people), "-t", str(examples / "welcome.mustache"))
    assert code == 2
    assert f"{people}:1: no 'email' column" in err
    assert not (clean_environment / "outbox").exists()


def test_a_contact_missing_a_variable_fails_alone(
    tmp_path: Path, examples: Path, clean_environment: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "email,first_name,favorite,city\na@example.com,Ana,Gelato,LA\nb@example.com,Ben,,Oakland\n"
        "c@example.com,Cy,Runtz\nd@example.com,Di,Mimosa,Vail,extra\n"
    )
    template = tmp_path / "t.mustache"
    template.write_text("Subject: {{first_name}}\nFrom: s@example.com\n\n{{favorite}} in {{city}}\n")
    code, out, err = run("send", str(people), "-t", str(template), "--transactional")
    assert code == 1
    delivered = {m["To"].addresses[0].addr_spec for m in outbox_messages(clean_environment / "outbox")}
    assert delivered == {"a@example.com", "b@example.com"}  # an empty value is a value
    # the unreadable row is a recipient who did not get it: a failure, not an exclusion
    assert "failed: 2" in out and "excluded: 0" in out
    assert "c@example.com: no value for template variable 'city'" in out
    assert "people.csv:5" in err and "5 fields where the header has 4" in err


def test_a_misspelt_template_variable_is_refused_before_sending_and_the_fix_sends_all(
    tmp_path: Path, clean_environment: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\na@example.com,Ana\nb@example.com,Ben\n")
    template = tmp_path / "t.mustache"
    template.write_text("Subject: Hi {{first_name}}\nFrom: s@example.com\n\n{{first_nmae}}\n")
    code, out, err = run("send", str(people), "-t", str(template), "--transactional")
    assert code == 2
    assert "{{first_nmae}}" in err and "did you mean {{first_name}}" in err
    assert not (clean_environment / "outbox").exists()
    template.write_text("Subject: Hi {{first_name}}\nFrom: s@example.com\n\n{{first_name}}\n")
    code, out, _ = run("send", str(people), "-t", str(template), "--transactional")
    assert code == 0 and "sent: 2" in out


def test_preview_prints_rendered_messages_and_sends_nothing(examples: Path, clean_environment: Path) -> None:
    code, out, _ = run(
        "preview", str(examples / "contacts.csv"), "-t", str(examples / "welcome.mustache"), "-n", "2"
    )
    assert code == 0
    assert out.count("----- ") == 2
    assert "Subject: Ana, your Blue Dream restock is in" in out
    assert "To: Ana García <ana.garcia@example.com>\n" in out  # decoded, as the Subject is
    assert not (clean_environment / "outbox").exists()


def test_dry_run_checks_everything_and_sends_nothing(examples: Path, clean_environment: Path) -> None:
    code, out, _ = run(
        "send", str(examples / "contacts.csv"), "-t", str(examples / "welcome.mustache"), "--dry-run"
    )
    assert code == 0
    assert "dry run: 20 would be sent" in out
    assert not (clean_environment / "outbox").exists()


def test_an_unknown_rule_pack_is_refused_naming_what_is_installed(examples: Path) -> None:
    code, _, err = run(
        "send", str(examples / "contacts.csv"), "-t", str(examples / "welcome.mustache"), "--rules", "x"
    )
    assert code == 2
    assert "no rule named x (installed packs:" in err


def test_bad_setting_exits_2_naming_the_variable(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_BATCH_SIZE", "lots")
    code, _, err = run("send", str(examples / "contacts.csv"), "-t", str(examples / "welcome.mustache"))
    assert code == 2
    assert "TIERII_BATCH_SIZE='lots' (environment)" in err and "expected a whole number" in err


def test_outbox_option_and_check(
    examples: Path, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_TYPO_SETTING", "1")
    code, out, err = run("check")
    assert code == 0
    assert "TIERII_OUTBOX_DIR = outbox  (.env.example)" in out
    assert "TIERII_UNSUBSCRIBE_SECRET = ********  (.env.example)" in out
    assert "demo-only-secret" not in out + err
    assert "ok   maildir" in out
    assert "TIERII_TYPO_SETTING is not a known setting" in err
    code, _, _ = run(
        "send",
        str(examples / "contacts.csv"),
        "-t",
        str(examples / "welcome.mustache"),
        "--outbox",
        "mail",
        "--limit",
        "3",
    )
    assert code == 0
    assert len(outbox_messages(clean_environment / "mail")) == 3


def test_help_stays_light_with_every_plugin_installed() -> None:
    """`tierii --help` loads every installed plugin: none may import its heavy dependencies then."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from tierii_core.cli import main\n"
        "sys.argv = ['tierii', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ['structlog', 'rich', 'cattrs', 'email_validator', 'sqlalchemy', 'mailersend', 'requests',\n"
        "         'starlette', 'uvicorn', 'azure', 'msal', 'boto3', 'botocore', 'cryptography',\n"
        "         'tierii_cannabis.packs', 'tierii_cannabis.stores',\n"
        "         'dkim', 'dns', 'nacl', 'publicsuffixlist',\n"
        "         'keyring', 'keyrings', 'secretstorage', 'jeepney', 'lark', 'psycopg',\n"
        "         'tierii_core.state_postgres', 'celery', 'kombu', 'redis']\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_an_oversized_csv_cell_rejects_its_row_with_its_line_and_the_others_are_sent(
    tmp_path: Path, examples: Path, clean_environment: Path
) -> None:
    people = tmp_path / "people.csv"
    big = "x" * (csv.field_size_limit() + 1)
    people.write_text(
        "email,first_name,last_name,favorite,city\n"
        f"a@example.com,Ana,A,{big},LA\nb@example.com,Bo,B,sativa,LA\nc@example.com,Cy,C,indica,SF\n"
    )
    result = CliRunner().invoke(
        cli,
        ["--env-file", str(DEMO_ENV), "send", str(people), "-t", str(examples / "welcome.mustache")],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert f"{people}:2" in result.stderr
    assert len(outbox_messages(clean_environment / "outbox")) == 2
