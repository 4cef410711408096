"""The built-in components pass the contract suites plugin authors use."""

from __future__ import annotations

import mailbox
from email.utils import parseaddr
from pathlib import Path

import pytest

from tierii_core.default_plugins import mustache, outbox
from tierii_core.testing import DeliveryProviderContract, TemplateEngineContract


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
        return lambda name: "{{%s}}" % name

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
