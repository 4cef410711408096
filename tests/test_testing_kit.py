"""tierii_core.testing: the fixtures work, and the contract suites catch broken components."""

from __future__ import annotations

import os
import smtplib
import socket
import textwrap
from pathlib import Path

import pytest

from tierii_core.testing import SmtpSink, make_message

pytest_plugins = ["pytester", "tierii_core.testing"]


# -- fixtures --------------------------------------------------------------------------------


def test_environment_is_clean_and_the_working_directory_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("TIERII_PROVIDER", "smtp")
    monkeypatch.setenv("TIERII_REQUIRE_SMTP_SINK", "1")
    from tierii_core.testing.environment import clean_environment

    work = clean_environment(monkeypatch, tmp_path / "w")
    assert "TIERII_PROVIDER" not in os.environ
    assert os.environ["TIERII_REQUIRE_SMTP_SINK"] == "1", "variables that steer the test run are kept"
    assert Path.cwd() == work and not any(work.iterdir())


def test_state_dir_is_set_and_empty(tierii_state_dir):
    assert os.environ["TIERII_STATE_DIR"] == str(tierii_state_dir)
    assert tierii_state_dir.is_dir() and not any(tierii_state_dir.iterdir())


def test_plugin_manager_has_the_default_plugins_only(tierii_plugin_manager):
    from tierii_core.plugins import DEFAULT_PLUGINS

    names = {name for name, plugin in tierii_plugin_manager.list_name_plugin() if plugin is not None}
    assert names == {module.rsplit(".", 1)[-1] for module in DEFAULT_PLUGINS}
    assert tierii_plugin_manager.sources == {}, "no entry point was loaded"


def test_smtp_sink_records_what_it_accepts(smtp_sink):
    message = make_message("zoe@example.com", name="Zoë", subject="Ваш заказ")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.sendmail("shop@example.com", ["zoe@example.com", "bob@example.com"], message.as_bytes())
    [received] = smtp_sink.messages
    assert (received.mail_from, received.rcpt_tos) == (
        "shop@example.com",
        ("zoe@example.com", "bob@example.com"),
    )
    assert received.message["Subject"] == "Ваш заказ"
    assert smtp_sink.recipients == ["zoe@example.com", "bob@example.com"]


def test_smtp_sink_refuses_on_request(smtp_sink):
    smtp_sink.refuse("Gone@Example.com")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        refused = client.sendmail(
            "shop@example.com", ["gone@example.com", "ann@example.com"], b"Subject: x\r\n\r\nx\r\n"
        )
        assert refused == {"gone@example.com": (550, b"5.1.1 no such user here")}
        smtp_sink.refuse_all("451 4.3.0 try again later")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.sendmail("shop@example.com", ["ann@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert caught.value.recipients["ann@example.com"][0] == 451
    assert smtp_sink.recipients == ["ann@example.com"]


def test_smtp_sink_with_login():
    with SmtpSink(credentials=("shop", "s3cret")) as sink, smtplib.SMTP(sink.host, sink.port) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("shop", "wrong")
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("shop@example.com", ["ann@example.com"], b"Subject: x\r\n\r\nx\r\n")
        client.login("shop", "s3cret")
        client.sendmail("shop@example.com", ["ann@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert [m.login for m in sink.messages] == ["shop"]


def test_smtp_sink_ports_differ_and_stop_closes_them():
    with SmtpSink() as first, SmtpSink() as second:
        assert first.port != second.port
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(first.host, first.port)


def test_smtp_sink_holds_replies_until_released_and_counts_deliveries(smtp_sink):
    """hold(): the message is taken but not answered (nor recorded) until release();
    wait_for() returns once that many recipients are accepted."""
    smtp_sink.hold()
    with socket.create_connection((smtp_sink.host, smtp_sink.port), timeout=30) as client:
        replies = client.makefile("rb")

        def say(line: str) -> bytes:
            client.sendall(line.encode() + b"\r\n")
            return replies.readline()

        assert replies.readline().startswith(b"220")
        assert say("HELO client").startswith(b"250")
        assert say("MAIL FROM:<shop@example.com>").startswith(b"250")
        assert say("RCPT TO:<ann@example.com>").startswith(b"250")
        assert say("RCPT TO:<bob@example.com>").startswith(b"250")
        assert say("DATA").startswith(b"354")
        client.sendall(b"Subject: held\r\n\r\nhi\r\n.\r\n")
        client.settimeout(0.5)  # an answer would come at once: none may come while held
        with pytest.raises(TimeoutError):
            client.recv(1, socket.MSG_PEEK)
        assert smtp_sink.recipients == [] and not smtp_sink.wait_for(1, timeout=0)
        client.settimeout(30)
        smtp_sink.release()
        assert replies.readline().startswith(b"250")
        assert smtp_sink.wait_for(2, timeout=30)
        assert smtp_sink.recipients == ["ann@example.com", "bob@example.com"]
        assert say("QUIT").startswith(b"221")


def test_smtp_sink_hold_needs_a_started_sink():
    with pytest.raises(RuntimeError, match="not started"):
        SmtpSink().hold()


# -- the contract suites fail for broken components -------------------------------------------

BROKEN = '''
import itertools, json
import attrs, pytest
from tierii_core.components import (
    ComplianceRule, ContactSource, DeliveryProvider, TemplateEngine, CompiledTemplate,
)
from tierii_core.errors import SourceError
from tierii_core.models import Contact, Outcome, Rejected
from tierii_core import hookimpl
from tierii_core.models import Credentials, Secret
from tierii_core.testing import (
    ComplianceRuleContract, ContactSourceContract, DeliveryProviderContract, TemplateEngineContract,
    CredentialsPluginContract, make_contact, make_message,
)

class Plugin:
    pass

class ListingSource(ContactSource):
    """Loads every record first, forgets nothing, checks nothing."""
    name = "listing"
    patterns = ("*.jsonl",)
    def validate(self):
        if not __import__("os").path.exists(self.location):
            raise SourceError("missing")
    def __iter__(self):
        with open(self.location) as f:
            rows = [json.loads(line) for line in f]
        return iter([Contact(r.get("email", ""), r, f"{self.location}:{i}") for i, r in enumerate(rows, 1)])

class LenientEngine(TemplateEngine):
    """Renders a missing variable as ''."""
    name = "lenient"
    patterns = ("*.lenient",)
    def compile(self, source, *, origin, escape_html):
        class T(CompiledTemplate):
            def render(self, context):
                return source.replace("[x]", str(context.get("x", "")))
        return T()

class ForgetfulProvider(DeliveryProvider):
    """Answers for the first message of a batch only."""
    name = "forgetful"
    max_batch = 10
    @classmethod
    def is_configured(cls, settings):
        return True
    def send(self, messages):
        return [Outcome.sent(messages[0], self.name)]

class ChattyRule(ComplianceRule):
    """Explains itself over two lines."""
    name = "chatty"
    def check_contact(self, contact):
        return None if contact.fields.get("ok") else "no\\nway"

class SloppyRule(ChattyRule):
    """Settings neither frozen nor defaulted."""
    name = "sloppy"
    @attrs.define
    class Settings:
        level: int

def make(tmp_path):
    counter = itertools.count()
    def write(records):
        path = tmp_path / f"c{next(counter)}.jsonl"
        path.write_text("".join(json.dumps(r) + "\\n" for r in records))
        return str(path)
    return write

class TestListingSource(ContactSourceContract):
    stream_small, stream_large = 200, 2000
    component_class = pytest.fixture(lambda self: ListingSource)
    plugin = pytest.fixture(lambda self: Plugin())
    make_location = pytest.fixture(lambda self, tmp_path: make(tmp_path))
    missing_location = pytest.fixture(lambda self, tmp_path: str(tmp_path / "none.jsonl"))

class TestLenientEngine(TemplateEngineContract):
    component_class = pytest.fixture(lambda self: LenientEngine)
    template_filename = pytest.fixture(lambda self: "a.lenient")
    template_for = pytest.fixture(lambda self: (lambda name: "[x]"))
    broken_template = pytest.fixture(lambda self: "")

class TestForgetfulProvider(DeliveryProviderContract):
    component_class = pytest.fixture(lambda self: ForgetfulProvider)
    delivered_to = pytest.fixture(lambda self: (lambda: []))

class TestChattyRule(ComplianceRuleContract):
    component_class = pytest.fixture(lambda self: ChattyRule)
    passing_contact = pytest.fixture(lambda self: make_contact(ok="1"))
    failing_contact = pytest.fixture(lambda self: make_contact())

class TestSloppyRule(TestChattyRule):
    component_class = pytest.fixture(lambda self: SloppyRule)

VAULT = {}

class CarelessVault:
    """Raises for a missing entry, answers for every provider, names no source, crashes when locked."""
    locked = False
    @hookimpl
    def tierii_resolve_credentials(self, provider, settings):
        if self.locked:
            raise RuntimeError("vault locked")
        return Credentials(username=getattr(settings, "username", None), secret=Secret(VAULT[provider]))

class TestCarelessVault(CredentialsPluginContract):
    plugin = pytest.fixture(lambda self: CarelessVault())
    store_secret = pytest.fixture(lambda self: VAULT.__setitem__)
    break_store = pytest.fixture(lambda self, plugin: (lambda: setattr(plugin, "locked", True)))
'''

EXPECTED_FAILURES = {
    # a source that builds a list (its repeated and invalid addresses are the core's to catch:
    # contacts_from checks every address, whatever the source yields)
    "TestListingSource::test_iterating_is_lazy",
    "TestListingSource::test_memory_stays_flat_while_streaming",
    "TestListingSource::test_plugin_registers_it",
    # an engine that renders a missing variable as "" and never escapes
    "TestLenientEngine::test_missing_variable_is_an_error_naming_it",
    "TestLenientEngine::test_values_are_escaped_only_for_html",
    "TestLenientEngine::test_syntax_error_is_a_template_error_naming_the_origin",
    # a provider that loses outcomes; no plugin fixture given
    "TestForgetfulProvider::test_one_outcome_per_message_matched_by_email",
    "TestForgetfulProvider::test_plugin_registers_it",
    # a rule with a two-line reason and settings that are neither frozen nor defaulted
    "TestChattyRule::test_names_the_reason_when_broken",
    "TestSloppyRule::test_settings_is_a_frozen_attrs_class",
    "TestSloppyRule::test_settings_fields_have_defaults_and_help",
    # a credentials plugin that raises for a missing entry, answers for a provider without a
    # secret, names no source and crashes (instead of a ConfigurationError) when locked
    "TestCarelessVault::test_nothing_stored_leaves_the_settings_answer",
    "TestCarelessVault::test_nothing_anywhere_is_none",
    "TestCarelessVault::test_a_provider_without_a_secret_gets_none",
    "TestCarelessVault::test_stored_secret_comes_before_settings",
    "TestCarelessVault::test_an_unreadable_store_is_a_configuration_error",
}


def test_contract_suites_catch_broken_components(pytester):
    pytester.makepyfile(test_broken=textwrap.dedent(BROKEN))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    failed = {
        report.split("::", 1)[1].split(" ", 1)[0]
        for report in result.outlines
        if report.startswith(("FAILED", "ERROR")) and "::" in report
    }
    missing = EXPECTED_FAILURES - failed
    assert not missing, f"the contracts let these through: {sorted(missing)}\n" + "\n".join(
        result.outlines[-40:]
    )
    assert "the contract needs a 'plugin' fixture" in result.stdout.str()
    passed = {
        "TestChattyRule::test_holds_for_a_compliant_record",
        "TestListingSource::test_claims_its_locations",
        "TestListingSource::test_invalid_address_is_rejected_and_the_rest_go_on",
        "TestListingSource::test_repeated_address_is_rejected_whatever_its_case",
        "TestCarelessVault::test_implements_the_hook",
    }
    assert not passed & failed, "the contracts must not fail what works"
