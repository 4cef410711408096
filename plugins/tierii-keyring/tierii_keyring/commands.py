"""``tierii credentials set|delete|list``: the providers' secrets in the keyring.

Every ``tierii`` invocation builds these commands, so this module imports click and the core
only; keyring is imported when a command reads or writes an entry.
"""

from __future__ import annotations

import sys
from typing import Any

import attrs
import click

from tierii_core.errors import ConfigurationError


@attrs.frozen
class _Provider:
    name: str
    field: str  # the settings field the secret would otherwise be in
    settings: Any

    @property
    def variable(self) -> str:
        from tierii_core.settings import env_name

        return env_name(self.name, self.field)

    @property
    def has_username(self) -> bool:
        return "username" in attrs.fields_dict(type(self.settings))

    def settings_secret(self) -> bool:
        from tierii_core.default_plugins.credentials import settings_secret

        return settings_secret(self.settings) is not None


def _providers() -> list[_Provider]:
    """Every installed provider that keeps a secret, with its settings."""
    from tierii_core.default_plugins.credentials import secret_field
    from tierii_core.plugins import Registry, make_plugin_manager
    from tierii_core.settings import SettingsReader

    registry = Registry(make_plugin_manager())
    reader = SettingsReader()
    found = []
    for info in sorted(registry.components("provider"), key=lambda i: i.name):
        field = secret_field(info.cls.Settings)
        if field is not None:
            found.append(_Provider(info.name, field, reader.load(info.cls.Settings, info.name)))
    return found


def _provider(name: str) -> _Provider:
    providers = _providers()
    for provider in providers:
        if provider.name == name:
            return provider
    names = ", ".join(p.name for p in providers) or "none: install one, e.g. pip install tierii-smtp"
    raise ConfigurationError(f"no installed provider called {name!r} keeps a secret (those that do: {names})")


@click.group()
def credentials() -> None:
    """Providers' passwords and API tokens in the system keyring (tierii-keyring).

    \b
    The keyring entry (service "tierii", one per provider) is used before the
    provider's settings; the login name (TIERII_SMTP_USERNAME) stays in settings.
    """


@credentials.command("set")
@click.argument("provider")
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="Read the secret from standard input (its first line)."
)
def set_secret(provider: str, from_stdin: bool) -> None:
    """Store PROVIDER's password or API token (asked for, never echoed)."""
    from tierii_keyring import store

    target = _provider(provider)
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = click.prompt(
            f"{target.name} secret (instead of {target.variable})",
            hide_input=True,
            confirmation_prompt=True,
            default="",
            show_default=False,
        )
    if not secret:
        raise ConfigurationError(f"no secret given for {target.name}: nothing stored")
    store.write(target.name, secret)
    click.echo(f"stored: {target.name} in the keyring ({store.backend_name()}), service '{store.SERVICE}'")
    if target.settings_secret():
        click.echo(
            f"warning: {target.variable} is set too; the keyring's secret is used from now on: "
            "remove it from the environment and .env",
            err=True,
        )
    if target.has_username and not getattr(target.settings, "username", ""):
        click.echo(f"note: set TIERII_{target.name.upper()}_USERNAME too (the login name stays in settings)")


@credentials.command("delete")
@click.argument("provider")
def delete_secret(provider: str) -> None:
    """Remove PROVIDER's entry from the keyring (its settings are used again, if any)."""
    from tierii_keyring import store

    if store.delete(provider):
        click.echo(f"deleted: {provider} from the keyring ({store.backend_name()})")
    else:
        click.echo(f"the keyring ({store.backend_name()}) has no {provider} entry: nothing to delete")


@credentials.command("list")
def list_secrets() -> None:
    """Each provider that keeps a secret, and where it comes from: keyring, settings or none.

    Secrets themselves are never shown.
    """
    from tierii_keyring import store

    providers = _providers()
    if not providers:
        click.echo("no installed provider keeps a secret")
        return
    width = max(len(p.name) for p in providers)
    for target in providers:
        in_keyring = store.read(target.name, target.variable) is not None
        in_settings = target.settings_secret()
        if in_keyring:
            where = "keyring" + (
                f" ({target.variable} is set too and not used: remove it)" if in_settings else ""
            )
        elif in_settings:
            where = f"settings ({target.variable})"
        else:
            where = "none"
        click.echo(f"{target.name:<{width}}  {where}")
