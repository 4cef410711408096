"""``tierii check``: the settings (secrets masked), the provider's own test, or --auth."""

from __future__ import annotations

import sys
from typing import Any

import attrs
import click

from tierii_core.cli.context import settings_reader
from tierii_core.cli.context import setup as _setup
from tierii_core.errors import ConfigurationError, ExitCode, TierIIError
from tierii_core.settings import DEPRECATED_SETTINGS, CoreSettings, env_name


@click.command()
@click.option("--provider", "provider_name", help="Provider to test (default: the one a send would use).")
@click.option(
    "--auth",
    "auth_domain",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DOMAIN]",
    help="Check SPF, DKIM, DMARC and alignment for DOMAIN (default: the From domain) instead; "
    "exit 1 when something is missing, 3 when DNS did not answer.",
)
@click.option("--json", "as_json", is_flag=True, help="With --auth: print one JSON object.")
def check(provider_name: str | None, auth_domain: str | None, as_json: bool) -> None:
    """Validate settings, show them (secrets masked) and test the provider."""
    from tierii_core.plugins import Registry, plugin_settings
    from tierii_core.sender_auth import SETTINGS_SECTIONS

    pm = _setup()
    reader = settings_reader({env_name(None, "provider"): provider_name})
    if auth_domain is not None:
        from tierii_core.authcheck import command

        sys.exit(command.run(pm, reader, auth_domain, provider_name, as_json))
    registry = Registry(pm)
    known = set()
    problems = []
    sections: list[tuple[str, type, str | None]] = [("core", CoreSettings, None)]
    sections += [
        (f"{i.kind} {i.name}", i.cls.Settings, i.name)
        for i in registry.components()
        if attrs.fields(i.cls.Settings)
    ]
    sections += list(SETTINGS_SECTIONS)
    sections += [
        (_plugin_section_title(prefix, settings_cls), settings_cls, prefix)
        for prefix, settings_cls in plugin_settings(pm)
    ]
    for title, settings_cls, component in sections:
        click.echo(f"[{title}]")
        try:
            for origin in reader.origins(settings_cls, component):
                known.add(origin.variable)
                click.echo(f"  {origin.variable} = {origin.shown()}  ({origin.source})")
        except TierIIError as exc:
            problems.append(str(exc))
            click.echo(f"  {exc}")
    unknown = sorted(
        reader.known_variables()
        - known
        - {"TIERII_LOAD_PLUGINS", "TIERII_DISABLE_PLUGINS", "TIERII_TRACE_PLUGINS", "TIERII_ENV_FILE"}
        - {"TIERII_NO_ENTRY_POINT_CACHE"}
    )
    for variable in unknown:
        if variable in DEPRECATED_SETTINGS:
            click.echo(f"warning: {DEPRECATED_SETTINGS[variable]}", err=True)
            continue
        click.echo(f"warning: {variable} is not a known setting (misspelt?)", err=True)
    if problems:
        raise ConfigurationError("settings are invalid (see above)")

    from tierii_core.assembly import Assembly

    core = reader.load(CoreSettings)
    provider = Assembly(pm, reader, core).provider(core.provider.split(",")[0].strip() or "auto")
    click.echo(f"[check: provider {provider.name}]")
    _show_credentials_source(provider)
    ok = True
    for step in provider.check():
        ok = ok and step.ok
        click.echo(f"  {'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}")
    from tierii_core.sender_auth import dkim_steps

    for step in dkim_steps(provider, reader):  # a bad key is a ConfigurationError: exit 2
        click.echo(f"  {'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}")
    if not ok:
        sys.exit(ExitCode.STOPPED)


def _show_credentials_source(provider: Any) -> None:
    """Where the provider's credentials came from; a warning when settings hold an unused copy."""
    from tierii_core.default_plugins.credentials import SOURCE, settings_secret

    credentials = provider.credentials
    if credentials is None:
        return
    source = credentials.source or "a credentials plugin"
    click.echo(f"  credentials: from {source}")
    found = settings_secret(provider.settings)
    if source != SOURCE and credentials.secret and found:
        variable = env_name(provider.name, found[0])
        click.echo(
            f"warning: {variable} is set too, but the secret from {source} is the one used: "
            f"the copy in settings can go",
            err=True,
        )


#: the commands this module adds to ``tierii``
COMMANDS = [check]


def _plugin_section_title(prefix: str, settings_cls: type) -> str:
    """A plugin's settings heading: its prefix, or its package when it has none (TIERII_EXECUTOR)."""
    return f"plugin {prefix}" if prefix else f"plugin {settings_cls.__module__.split('.')[0]}"
