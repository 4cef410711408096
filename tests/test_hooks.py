"""Every hook, called through a real plugin manager (tests/test_meta.py requires a test_hook_* each)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from structlog.testing import capture_logs

from tierii_core import hookimpl
from tierii_core.cli import context as cli_context
from tierii_core.components import ContactSource
from tierii_core.default_plugins.compliance import OneClickUnsubscribe
from tierii_core.default_plugins.mustache import Mustache
from tierii_core.default_plugins.outbox import Outbox
from tierii_core.models import Credentials, Outcome, RunInfo, RunSummary, Secret, Status
from tierii_core.observe import notify
from tierii_core.plugins import Registry, make_plugin_manager

RUN = RunInfo("spring", "contacts.csv", "welcome.mustache", ("outbox",), False, datetime.now(timezone.utc), 2)


class NoteSource(ContactSource):
    """Contacts from notes (test)."""

    name = "notes"
    patterns = ("*.notes",)


class Recorder:
    """Implements every observer hook, and credentials that win over the settings."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def tierii_contact_sources(self):
        return [NoteSource]

    @hookimpl
    def tierii_resolve_credentials(self, provider):
        return Credentials(username="from-keyring") if provider == "smtp" else None

    @hookimpl
    def tierii_run_started(self, run):
        self.calls.append(("started", run.campaign))

    @hookimpl
    def tierii_batch_finished(self, run, outcomes):
        self.calls.append(("batch", [o.email for o in outcomes]))

    @hookimpl
    def tierii_run_finished(self, run, summary):
        self.calls.append(("finished", summary.sent))


class Broken:
    @hookimpl
    def tierii_run_started(self, run):
        raise RuntimeError("observer bug")


@pytest.fixture
def pm():
    manager = make_plugin_manager(load_entry_points=False)
    manager.register(Recorder(), name="recorder")
    manager.check_pending()
    return manager


def recorder(pm) -> Recorder:
    return pm.get_plugin("recorder")


def test_hook_tierii_contact_sources(pm):
    assert [NoteSource] in pm.hook.tierii_contact_sources()
    assert Registry(pm).claiming("source", "crm.notes") is NoteSource


def test_hook_tierii_template_engines(pm):
    assert [Mustache] in pm.hook.tierii_template_engines()


def test_hook_tierii_delivery_providers(pm):
    assert [Outbox] in pm.hook.tierii_delivery_providers()


def test_hook_tierii_compliance_rules(pm):
    rules = [cls for result in pm.hook.tierii_compliance_rules() for cls in result]
    assert OneClickUnsubscribe in rules


def test_hook_tierii_resolve_credentials(pm):
    settings = Outbox.Settings()
    assert pm.hook.tierii_resolve_credentials(provider="smtp", settings=settings) == Credentials(
        username="from-keyring"
    )
    # the built-in reader (trylast) answers from the settings when no plugin does
    from attrs import frozen

    @frozen
    class SmtpLike:
        username: str = "shop"
        password: Secret = Secret("s3cret")  # noqa: RUF009 (immutable)

    answer = pm.hook.tierii_resolve_credentials(provider="other", settings=SmtpLike())
    assert answer.username == "shop" and answer.secret.reveal() == "s3cret"
    assert answer.source == "settings", "tierii check says where the credentials came from"


def test_the_settings_secret_is_found_by_name_or_as_the_only_secret_field():
    from attrs import frozen

    from tierii_core.default_plugins.credentials import secret_field, settings_secret

    @frozen
    class ApiLike:
        api_token: Secret = Secret("")  # noqa: RUF009 (immutable)
        webhook_secret: Secret = Secret("hook")  # noqa: RUF009 (immutable)

    @frozen
    class ConnectionLike:
        connection_string: Secret = Secret("endpoint=...;accesskey=k")  # noqa: RUF009 (immutable)

    assert secret_field(ApiLike) == "api_token", "a named secret field wins over any other"
    assert settings_secret(ApiLike()) is None, "an empty API token is no secret, whatever else is set"
    assert secret_field(ConnectionLike) == "connection_string"
    assert settings_secret(ConnectionLike()) == ("connection_string", ConnectionLike().connection_string)
    assert secret_field(Outbox.Settings) is None


def test_hook_tierii_run_started(pm):
    pm.register(Broken(), name="broken")
    with capture_logs() as logs:
        notify(pm, "tierii_run_started", run=RUN)
    assert ("started", "spring") in recorder(pm).calls, "one broken observer does not stop the others"
    assert [e["plugin"] for e in logs if e["event"] == "observer.failed"] == ["broken"]


def test_hook_tierii_batch_finished(pm):
    outcomes = [Outcome("ann@example.com", Status.SENT, "outbox"), Outcome("bob@example.com", Status.FAILED)]
    pm.hook.tierii_batch_finished(run=RUN, outcomes=outcomes)
    assert ("batch", ["ann@example.com", "bob@example.com"]) in recorder(pm).calls


def test_hook_tierii_run_finished(pm, capsys):
    pm.hook.tierii_run_finished(run=RUN, summary=RunSummary("spring", sent=2))
    assert ("finished", 2) in recorder(pm).calls
    assert "sent: 2" in capsys.readouterr().out  # the built-in observer prints the summary


def test_hook_tierii_register_commands(pm):
    import click
    from click.testing import CliRunner

    class Commands:
        @hookimpl
        def tierii_register_commands(self, cli):
            @cli.command()
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    pm.register(Commands(), name="commands")
    group = click.Group("tierii")
    pm.hook.tierii_register_commands(cli=group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


def test_hook_tierii_plugin_settings(pm, monkeypatch):
    from attrs import frozen
    from click.testing import CliRunner

    import tierii_core.cli as cli_module
    from tierii_core.plugins import plugin_settings

    @frozen
    class ArchiveSettings:
        folder: str = ""

    class Archive:
        @hookimpl
        def tierii_plugin_settings(self):
            return [("archive", ArchiveSettings)]

    pm.register(Archive(), name="archive")
    assert plugin_settings(pm) == [("archive", ArchiveSettings)]
    monkeypatch.setenv("TIERII_ARCHIVE_FOLDER", "/srv/archive")
    monkeypatch.setattr(cli_context, "_plugin_manager", pm)
    result = CliRunner().invoke(cli_module.cli, ["check"])
    assert "[plugin archive]\n  TIERII_ARCHIVE_FOLDER = /srv/archive  (environment)" in result.stdout
    assert "TIERII_ARCHIVE_FOLDER is not a known setting" not in result.stderr


def test_hook_tierii_template_variables(pm, tmp_path, monkeypatch):
    """A plugin supplies each recipient's variables and sender; it is asked once per recipient,
    a recipient it refuses fails alone, and a setting it lacks refuses the template by name."""
    from tierii_core.components import ContactVariables
    from tierii_core.errors import ConfigurationError, ContactError
    from tierii_core.models import Address, Contact
    from tierii_core.runner import Campaign, SendOptions
    from tierii_core.settings import SettingsReader

    asked: list[str] = []

    class Stores(ContactVariables):
        supplies_sender = True
        desks = {"north": "1 North Road", "south": "2 South Street"}

        def variables(self, contact):
            asked.append(contact.email)
            desk = contact.fields.get("desk")
            if desk not in self.desks:
                raise ContactError(f"{contact.origin}: no desk {desk!r}")
            return {"desk_address": self.desks[desk], "desk": desk.upper()}

        def sender(self, contact):
            return Address(f"{contact.fields['desk']}@shop.example", "The Shop")

        def unset(self):
            return {"desk_phone": "TIERII_DESKS_PHONE"}

    class DeskPlugin:
        @hookimpl
        def tierii_template_variables(self, core, reader):
            assert core.provider == "outbox" and reader.raw("TIERII_PROVIDER")[0] == "outbox"
            return Stores()

    class Quiet:
        @hookimpl
        def tierii_template_variables(self):
            return None  # nothing to add to this run

    class Notes(ContactSource):
        """Three contacts (test)."""

        name = "desks"
        patterns = ("*.desks",)

        def __iter__(self):
            yield Contact("a@example.com", {"desk": "north"}, "x.desks:2")
            yield Contact("b@example.com", {"desk": "south", "desk_address": "forged"}, "x.desks:3")
            yield Contact("c@example.com", {"desk": "west"}, "x.desks:4")

    class Register:
        @hookimpl
        def tierii_contact_sources(self):
            return [Notes]

    for plugin in (DeskPlugin(), Quiet(), Register()):
        pm.register(plugin)
    template = tmp_path / "t.mustache"
    template.write_text("Subject: {{desk}} news\n\nVisit us at {{desk_address}}.\n")
    monkeypatch.setenv("TIERII_TRANSACTIONAL", "true")
    campaign = Campaign(pm, SettingsReader({"TIERII_PROVIDER": "outbox"}), SendOptions("x.desks", template))
    campaign.prepare(need_provider=False)
    prepared = list(campaign.preview(3))
    a, b, c = prepared
    assert a.message.text.strip() == "Visit us at 1 North Road." and a.message.subject == "NORTH news"
    assert b.message.text.strip() == "Visit us at 2 South Street.", "the plugin's value wins over a field"
    assert a.message.sender == Address("north@shop.example", "The Shop")
    assert b.message.variables["desk_address"] == "2 South Street"
    assert c.message is None and c.outcome.status is Status.FAILED
    assert c.outcome.reason == "x.desks:4: no desk 'west'"
    assert asked.count("b@example.com") == 1

    template.write_text("Subject: hi\n\nCall {{desk_phone}}.\n")
    with pytest.raises(
        ConfigurationError, match=r"uses \{\{desk_phone\}\}, but TIERII_DESKS_PHONE is not set"
    ):
        Campaign(pm, SettingsReader({"TIERII_PROVIDER": "outbox"}), SendOptions("x.desks", template)).prepare(
            need_provider=False
        )
