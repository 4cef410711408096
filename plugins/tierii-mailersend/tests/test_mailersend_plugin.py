"""The plugin as TierII sees it: found through its entry point, cheap to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tierii_core.plugins import Registry, make_plugin_manager
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import MailerSendSettings


def test_loading_the_plugin_does_not_import_the_sdk_or_the_web_stack() -> None:
    """`tierii --help` and `tierii plugins` must not pay ~0.35 s for the SDK, nor for starlette
    and uvicorn: every `tierii` call loads the plugin and runs its commands hook."""
    # a fresh interpreter: this test process has imported the SDK already
    code = (
        "import sys\n"
        "from tierii_core.cli import cli\n"
        "from tierii_core.plugins import Registry, make_plugin_manager\n"
        "pm = make_plugin_manager()\n"
        "Registry(pm).get('provider', 'mailersend')\n"
        "pm.hook.tierii_register_commands(cli=cli)\n"
        "assert 'mailersend' in cli.commands, sorted(cli.commands)\n"
        "modules = ('mailersend', 'requests', 'pydantic', 'starlette', 'uvicorn')\n"
        "print(','.join(sorted(m for m in modules if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_entry_point_registers_the_provider() -> None:
    pm = make_plugin_manager()
    assert "tierii-mailersend" in pm.sources
    assert pm.sources["tierii-mailersend"].distribution == "tierii-mailersend"
    assert Registry(pm).get("provider", "mailersend") is MailerSendProvider


def test_the_provider_ranks_above_smtp_and_outbox() -> None:
    assert MailerSendProvider.name == "mailersend"
    assert MailerSendProvider.priority == 100


def test_it_is_configured_exactly_when_a_token_is_set() -> None:
    from tierii_core.models import Secret

    assert not MailerSendProvider.is_configured(MailerSendSettings())
    assert MailerSendProvider.is_configured(MailerSendSettings(api_token=Secret("t")))


def test_batch_size_and_rate_come_from_the_settings() -> None:
    # requests are paced a little under the account's limit (see PACING_MARGIN)
    bulk = MailerSendProvider(MailerSendSettings(bulk_size=200, bulk_per_minute=20), None)
    assert (bulk.max_batch, bulk.max_per_minute) == (200, pytest.approx(19.6))
    single = MailerSendProvider(MailerSendSettings(bulk_size=1, email_per_minute=120), None)
    assert (single.max_batch, single.max_per_minute) == (1, pytest.approx(117.6))
    # the class keeps the defaults' figures: two runs with different settings do not interfere
    assert (MailerSendProvider.max_batch, MailerSendProvider.max_per_minute) == (500, pytest.approx(9.8))
