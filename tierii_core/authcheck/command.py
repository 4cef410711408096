"""``tierii check --auth [DOMAIN]``: gather the settings, run the checks, print lines or JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from tierii_core.errors import ConfigurationError
from tierii_core.settings import CoreSettings

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def from_domain(domain: str, core: CoreSettings) -> str:
    """DOMAIN as given, else the domain of TIERII_FROM_EMAIL; exit 2 when neither says."""
    if not domain:
        if not core.from_email or "@" not in core.from_email:
            raise ConfigurationError(
                "tierii check --auth: give the DOMAIN to check, or set TIERII_FROM_EMAIL (its domain is used)"
            )
        domain = core.from_email.rpartition("@")[2].rstrip(">")
    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ConfigurationError(
            f"tierii check --auth {domain!r}: not a domain name (e.g. greenleaf.example)"
        )
    return domain


def run(pm: Any, reader: Any, domain: str, provider_name: str | None, as_json: bool) -> int:
    """Check and print; the exit code (0 all in place, 1 problems, 3 DNS did not answer);
    ConfigurationError is exit 2."""
    from tierii_core.assembly import Assembly
    from tierii_core.authcheck.report import Sending, check_domain
    from tierii_core.authcheck.resolver import DNS_PREFIX, DnsSettings, Lookup
    from tierii_core.sender_auth import load_signer

    core = reader.load(CoreSettings)
    domain = from_domain(domain, core)
    dns_settings = reader.load(DnsSettings, DNS_PREFIX)
    lookup = Lookup(dns_settings)
    signer = load_signer(reader)
    provider = Assembly(pm, reader, core).provider(
        (provider_name or core.provider).split(",")[0].strip() or "auto"
    )
    settings = provider.settings
    sending = Sending(
        provider=provider.name,
        signs_for_sender=bool(provider.signs_for_sender),
        relay=(getattr(settings, "host", "") or None) if provider.delivers else None,
        tls=getattr(settings, "security", "starttls") != "none",
        unsubscribe_url=core.unsubscribe_url,
    )
    report = check_domain(domain, lookup, signer, sending)
    if as_json:
        data = report.as_dict()
        data["provider"] = provider.name
        data["dns_servers"] = dns_settings.servers or "system"
        click.echo(json.dumps(data, indent=2))
        return report.exit_code
    servers = dns_settings.servers or "the system's resolver"
    click.echo(f"[check: sender authentication for {domain}, provider {provider.name}, DNS {servers}]")
    for finding in report.findings:
        mark = "ok  " if finding.ok else "FAIL"
        problem = f": {finding.problem}" if finding.problem else ""
        click.echo(f"  {mark} {finding.area}: {finding.detail}{problem}")
    for line in report.advice:
        click.echo(f"  note {line}")
    click.echo(f"verdict: {report.verdict}")
    return report.exit_code
