"""The credentials plugin contract: what a ``tierii_resolve_credentials`` implementation owes.

A keyring or secret-manager plugin answers before the settings fallback; these checks hold it
to the hook's rules (see the hook's documentation): None for what it does not hold, never an
exception for a missing entry, the secret wrapped and its source named, and a clear
``ConfigurationError`` when its store cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from tierii_core.errors import ConfigurationError
from tierii_core.models import Credentials, Secret
from tierii_core.plugins import make_plugin_manager
from tierii_core.testing.contracts.base import _needed
from tierii_core.testing.environment import clean_environment


@attrs.frozen
class LoginSettings:
    """A provider's settings with a login name and a password (as tierii-smtp's)."""

    username: str = ""
    password: Secret = Secret("")  # noqa: RUF009 (immutable)


@attrs.frozen
class NoSecretSettings:
    """A provider's settings with no secret at all (as the outbox's)."""

    directory: str = "outbox"


class CredentialsPluginContract:
    """Checks for a plugin implementing ``tierii_resolve_credentials``.

    Fixtures to provide: ``plugin`` (the module your entry point names) and ``store_secret``
    (a function ``(provider, secret)`` that puts an entry in the store your plugin reads, as
    a user would). Optionally ``break_store`` (a function that makes the store unreadable:
    locked, unavailable) to check the error the user gets then.
    """

    @pytest.fixture
    def plugin(self) -> ModuleType | object:
        return _needed("plugin", "return the plugin module that implements tierii_resolve_credentials")

    @pytest.fixture
    def store_secret(self) -> Callable[[str, str], None]:
        return _needed(
            "store_secret", "a function (provider, secret) storing an entry where the plugin reads"
        )

    @pytest.fixture
    def break_store(self) -> Callable[[], None] | None:
        """Override with a function that makes the store unreadable (locked, unavailable)."""
        return None

    @pytest.fixture
    def contract_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
        clean_environment(monkeypatch, tmp_path / "contract-work")
        return monkeypatch

    @pytest.fixture
    def resolve(self, plugin: object, contract_environment: pytest.MonkeyPatch) -> Callable[..., Any]:
        """The hook as a run calls it: the plugin registered with the default plugins."""
        pm = make_plugin_manager(load_entry_points=False)
        if not pm.is_registered(plugin):
            pm.register(plugin, name="contract-test-plugin")
        pm.check_pending()
        return lambda provider, settings: pm.hook.tierii_resolve_credentials(
            provider=provider, settings=settings
        )

    def test_implements_the_hook(self, plugin: object, contract_environment: pytest.MonkeyPatch) -> None:
        pm = make_plugin_manager(load_entry_points=False)
        if not pm.is_registered(plugin):
            pm.register(plugin, name="contract-test-plugin")
        pm.check_pending()
        implementers = [impl.plugin for impl in pm.hook.tierii_resolve_credentials.get_hookimpls()]
        assert plugin in implementers, "the plugin must implement tierii_resolve_credentials"

    def test_nothing_stored_leaves_the_settings_answer(self, resolve: Callable[..., Any]) -> None:
        settings = LoginSettings(username="alice", password=Secret("from-settings"))
        credentials = resolve("contract-nothing-stored", settings)  # must not raise
        assert isinstance(credentials, Credentials) and credentials.source == "settings", (
            f"with no entry for the provider, answer None so that its settings are used: got {credentials!r}"
        )
        assert credentials.secret == Secret("from-settings")

    def test_nothing_anywhere_is_none(self, resolve: Callable[..., Any]) -> None:
        assert resolve("contract-nothing-anywhere", LoginSettings()) is None, (
            "no entry and no settings: the answer is None, never empty credentials"
        )

    def test_a_provider_without_a_secret_gets_none(
        self, resolve: Callable[..., Any], store_secret: Callable[[str, str], None]
    ) -> None:
        store_secret("contract-no-secret", "never-asked-for")
        assert resolve("contract-no-secret", NoSecretSettings()) is None, (
            "a provider whose settings hold no secret needs none from the store: answer None"
        )

    def test_stored_secret_comes_before_settings(
        self, resolve: Callable[..., Any], store_secret: Callable[[str, str], None]
    ) -> None:
        store_secret("contract-stored", "from-the-store")
        credentials = resolve("contract-stored", LoginSettings(username="alice", password=Secret("old")))
        assert isinstance(credentials, Credentials), f"the stored secret is not used: {credentials!r}"
        assert isinstance(credentials.secret, Secret), "wrap the secret in tierii_core.models.Secret"
        assert credentials.secret.reveal() == "from-the-store", "the stored secret comes before settings"
        assert credentials.username == "alice", "keep the login name from the settings"
        assert credentials.source and credentials.source != "settings", (
            "name where the credentials came from in Credentials.source (tierii check shows it)"
        )
        assert "from-the-store" not in repr(credentials), "the secret must never show in a repr"

    def test_an_unreadable_store_is_a_configuration_error(
        self,
        resolve: Callable[..., Any],
        store_secret: Callable[[str, str], None],
        break_store: Callable[[], None] | None,
    ) -> None:
        if break_store is None:
            pytest.skip("provide a 'break_store' fixture to check the error of a locked or missing store")
        store_secret("contract-broken", "unreachable")
        break_store()
        with pytest.raises(ConfigurationError) as caught:
            resolve("contract-broken", LoginSettings(username="alice", password=Secret("old")))
        message = str(caught.value)
        assert "TIERII_DISABLE_PLUGINS" in message, "name the way out: TIERII_DISABLE_PLUGINS=<plugin>"
        assert "unreachable" not in message
