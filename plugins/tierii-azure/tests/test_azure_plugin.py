"""The plugin as TierII sees it: found through its entry point, cheap to import."""

from __future__ import annotations

import subprocess
import sys

from tierii_azure.provider import AzureProvider
from tierii_azure.settings import AzureSettings
from tierii_core.models import Secret
from tierii_core.plugins import Registry, make_plugin_manager


def test_loading_the_plugin_and_tierii_help_do_not_import_the_sdk() -> None:
    """azure-core and the SDK cost a few hundred milliseconds: only a run that sends pays."""
    code = (
        "import sys\n"
        "from tierii_core.cli import main\n"
        "from tierii_core.plugins import Registry, make_plugin_manager\n"
        "assert Registry(make_plugin_manager()).get('provider', 'azure').__name__ == 'AzureProvider'\n"
        "sys.argv = ['tierii', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('azure', 'azure.core', 'azure.communication', 'azure.identity', 'requests', 'msal')\n"
        "print('heavy:' + ','.join(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip().splitlines()[-1] == "heavy:"


def test_the_entry_point_registers_the_provider() -> None:
    pm = make_plugin_manager()
    assert pm.sources["tierii-azure"].distribution == "tierii-azure"
    assert Registry(pm).get("provider", "azure") is AzureProvider


def test_it_declares_how_it_sends() -> None:
    assert AzureProvider.signs_for_sender is True  # ACS DKIM-signs with the customer's domain
    assert AzureProvider.max_per_minute is None  # it paces each request itself, per minute and hour
    assert 50 < AzureProvider.priority < 100  # below mailersend, above smtp


def test_it_is_configured_by_a_connection_string_or_an_endpoint() -> None:
    assert not AzureProvider.is_configured(AzureSettings())
    key = "endpoint=https://r.communication.azure.com/;accesskey=a2V5"
    assert AzureProvider.is_configured(AzureSettings(connection_string=Secret(key)))
    assert AzureProvider.is_configured(AzureSettings(endpoint="https://r.communication.azure.com"))


def test_the_batch_size_comes_from_the_settings() -> None:
    assert AzureProvider(AzureSettings(batch_size=7), None).max_batch == 7
    assert AzureProvider.max_batch == 50
