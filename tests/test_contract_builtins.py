"""The built-in components pass the contract suites plugin authors use."""

from __future__ import annotations

import mailbox
from email.utils import parseaddr
from pathlib import Path

import attrs
import pytest

from tierii_core.default_plugins import compliance, mustache, outbox
from tierii_core.settings import CoreSettings
from tierii_core.testing import (
    ComplianceRuleContract,
    DeliveryProviderContract,
    TemplateEngineContract,
    make_message,
)


class TestMustacheContract(TemplateEngineContract):
    @pytest.fixture
    def component_class(self):
        return mustache.Mustache

    @pytest.fixture
    def plugin(self):
        return mustache

    @pytest.fixture
    def template_filename(self):
        return "welcome.mustache"

    @pytest.fixture
    def template_for(self):
        return lambda name: "{{" + name + "}}"

    @pytest.fixture
    def broken_template(self):
        return "Hello {{#open}}never closed"


class TestOutboxContract(DeliveryProviderContract):
    @pytest.fixture
    def component_class(self):
        return outbox.Outbox

    @pytest.fixture
    def plugin(self):
        return outbox

    @pytest.fixture
    def component_settings(self, tmp_path: Path):
        return outbox.Outbox.Settings(dir=tmp_path / "outbox")

    @pytest.fixture
    def delivered_to(self, component_settings):
        def recipients() -> list[str]:
            maildir = mailbox.Maildir(component_settings.dir, factory=None, create=False)
            return [parseaddr(message["To"])[1] for message in maildir]

        return recipients

    @pytest.fixture
    def unreachable_settings(self, tmp_path: Path):
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        return outbox.Outbox.Settings(dir=blocker / "outbox")


UNSUBSCRIBE = "https://shop.example/unsubscribe?u=ann&sig=abc"
ONE_CLICK_HEADERS = (
    ("List-Unsubscribe", f"<{UNSUBSCRIBE}>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
)
POSTAL = "Green Leaf, 1 Main St, Oakland, CA 94607"


class BuiltinRuleContract(ComplianceRuleContract):
    @pytest.fixture
    def plugin(self):
        return compliance

    @pytest.fixture
    def core_settings(self):
        return CoreSettings(sender_address=POSTAL, ad_notice="This is an advertisement.")

    @pytest.fixture
    def passing_message(self):
        text = f"Hi Ann.\n\nThis is an advertisement.\n{POSTAL}\nUnsubscribe: {UNSUBSCRIBE}\n"
        html = (
            f"<p>Hi Ann.</p><p>This is an advertisement.</p><p>{POSTAL}</p>"
            f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>'
        )
        return make_message(text=text, html=html, headers=ONE_CLICK_HEADERS)


class TestOneClickUnsubscribeContract(BuiltinRuleContract):
    @pytest.fixture
    def component_class(self):
        return compliance.OneClickUnsubscribe

    @pytest.fixture
    def failing_message(self):
        return make_message(headers=ONE_CLICK_HEADERS[:1])


class TestUnsubscribeLinkContract(BuiltinRuleContract):
    @pytest.fixture
    def component_class(self):
        return compliance.VisibleUnsubscribeLink

    @pytest.fixture
    def failing_message(self, passing_message):
        return attrs.evolve(passing_message, html="<p>no link here</p>")


class TestPostalAddressContract(BuiltinRuleContract):
    @pytest.fixture
    def component_class(self):
        return compliance.PostalAddress

    @pytest.fixture
    def failing_message(self, passing_message):
        return attrs.evolve(passing_message, text=f"Unsubscribe: {UNSUBSCRIBE}\n")


class TestAdvertisementNoticeContract(BuiltinRuleContract):
    @pytest.fixture
    def component_class(self):
        return compliance.AdvertisementNotice

    @pytest.fixture
    def failing_message(self, passing_message):
        return attrs.evolve(passing_message, html=f"<p>{POSTAL}</p>")
