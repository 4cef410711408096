"""Every hook TierII calls. Implement them in a plugin with ``@tierii_core.hookimpl``.

Hooks are called with keyword arguments; an implementation may accept any subset of a
hook's parameters, and must not give them default values. New parameters are only ever
added at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tierii_core import hookspec
from tierii_core.components import (
    ComplianceRule,
    ContactSource,
    ContactVariables,
    DeliveryProvider,
    TemplateEngine,
)
from tierii_core.models import Credentials, Outcome, RunInfo, RunSummary

__all__ = [
    "tierii_batch_finished",
    "tierii_compliance_rules",
    "tierii_contact_sources",
    "tierii_delivery_providers",
    "tierii_plugin_settings",
    "tierii_register_commands",
    "tierii_resolve_credentials",
    "tierii_run_finished",
    "tierii_run_started",
    "tierii_template_engines",
    "tierii_template_variables",
]


@hookspec
def tierii_contact_sources() -> list[type[ContactSource]]:
    """Register contact sources.

    :return: :class:`~tierii_core.components.ContactSource` subclasses; each claims locations
        by its ``patterns`` (``*.csv``). Names must be unique across all plugins.
    """


@hookspec
def tierii_template_engines() -> list[type[TemplateEngine]]:
    """Register template engines.

    :return: :class:`~tierii_core.components.TemplateEngine` subclasses; each claims template
        files by its ``patterns`` (``*.mustache``).
    """


@hookspec
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    """Register delivery providers (the seed's "auth providers").

    :return: :class:`~tierii_core.components.DeliveryProvider` subclasses. With
        ``TIERII_PROVIDER=auto`` the configured provider with the highest ``priority`` is used.
    """


@hookspec
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    """Register compliance rules.

    :return: :class:`~tierii_core.components.ComplianceRule` subclasses, checked before sending.
    """


@hookspec(firstresult=True)
def tierii_resolve_credentials(provider: str, settings: Any) -> Credentials | None:
    """Supply the credentials for a provider; the first non-None answer wins.

    The built-in implementation (``trylast``) reads them from the provider's settings
    (``TIERII_<PROVIDER>_USERNAME``/``PASSWORD``/``API_TOKEN``); a keyring or secret-manager
    plugin (``tierii-keyring``) answers first. What such a plugin must do:

    - answer ``None`` for a provider it holds nothing for, so that the next source (settings,
      last) is asked; never raise for a missing entry;
    - leave its store alone for a provider that keeps no secret
      (``tierii_core.default_plugins.credentials.secret_field(type(settings))`` is None);
    - wrap the secret in a ``Secret``, take the username from ``settings`` when its store has
      none, and name itself in ``Credentials.source`` (``tierii check`` shows where the
      credentials came from, and warns when settings hold a copy that is not used);
    - when the store itself cannot be read (locked, unavailable), raise ``ConfigurationError``
      naming the store and the way out: the command stops with exit 2 before anything is sent.
      Never answer an empty secret instead;
    - import its heavy dependencies inside this hook, which runs only when a provider is built.

    ``CredentialsPluginContract`` in ``tierii_core.testing`` checks these.

    :param provider: the provider's name, e.g. ``"smtp"``
    :param settings: that provider's structured ``Settings`` instance
    """


@hookspec
def tierii_run_started(run: RunInfo) -> None:
    """A run is starting. Observers must not raise; an exception is logged and ignored.

    :param run: what is being sent, where from, with which providers
    """


@hookspec
def tierii_batch_finished(run: RunInfo, outcomes: Sequence[Outcome]) -> None:
    """A batch has been delivered (or failed) and recorded.

    :param run: the run
    :param outcomes: one per recipient in the batch (sent, failed, excluded or unknown)
    """


@hookspec
def tierii_run_finished(run: RunInfo, summary: RunSummary) -> None:
    """The run has ended, completely or stopped early (``summary.stopped`` says why).

    :param run: the run
    :param summary: the counts and failures
    """


@hookspec
def tierii_plugin_settings() -> list[tuple[str, type]]:
    """Declare settings that belong to the plugin itself rather than to one of its components.

    ``tierii check`` shows them (and stops calling them unknown), the settings reference
    documents them. Read them with ``SettingsReader().load(SettingsClass, prefix)``.

    :return: ``(prefix, SettingsClass)`` pairs: a frozen attrs class whose fields are filled
        from ``TIERII_<PREFIX>_<FIELD>``
    """


@hookspec
def tierii_register_commands(cli: Any) -> None:
    """Add commands to ``tierii`` (a webhook receiver, an import tool...).

    Called once by the ``tierii`` command before it parses its arguments. Import heavy
    dependencies inside the commands, not here: every ``tierii`` invocation pays for this hook.

    :param cli: the ``tierii`` :class:`click.Group`; call ``cli.add_command(...)`` or decorate
        with ``@cli.command()``
    """


@hookspec
def tierii_template_variables(core: Any, reader: Any) -> ContactVariables | None:
    """Supply template variables (and the sender) per recipient: a store's licence number,
    its postal address, its From identity.

    Called once per run, before anything is rendered: load what the variables come from
    here (a stores file), and raise :class:`~tierii_core.errors.ConfigurationError` naming the
    file or setting when it is wrong. The returned object is then asked once per recipient,
    without going through the plugin manager, so a run of a million recipients pays a method
    call each, not a hook call. Return None when the plugin has nothing to add to this run.

    :param core: the run's :class:`~tierii_core.settings.CoreSettings`
    :param reader: the run's :class:`~tierii_core.settings.SettingsReader` (with the command's
        options): read the plugin's own settings with ``reader.load(SettingsClass, prefix)``
    :return: a :class:`~tierii_core.components.ContactVariables`, or None
    """
