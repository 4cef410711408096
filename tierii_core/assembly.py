"""Building a campaign's components from the settings: where configuration errors surface.

Everything here runs before anything is sent, and every problem it finds is a
:class:`~tierii_core.errors.ConfigurationError` (exit 2). ``tierii check`` uses it too, to
build a provider exactly as a send would.
"""

from __future__ import annotations

from typing import Any

import attrs

from tierii_core.components import ComplianceRule, ContactSource, DeliveryProvider
from tierii_core.compose import Composer, parse_address
from tierii_core.errors import ConfigurationError
from tierii_core.models import Address
from tierii_core.options import SendOptions
from tierii_core.plugins import PluginManager, Registry
from tierii_core.ratelimit import TokenBucket, parse_rate
from tierii_core.settings import CoreSettings, SettingsReader
from tierii_core.unsubscribe import UnsubscribeLinks


class Assembly:
    """Builds sources, composers, rules and providers with their settings and credentials."""

    def __init__(self, pm: PluginManager, reader: SettingsReader, core: CoreSettings) -> None:
        self.pm = pm
        self.registry = Registry(pm)
        self.reader = reader
        self.core = core

    def settings_of(self, cls: type) -> Any:
        return self.reader.load(cls.Settings, cls.name)

    def source(self, location: str) -> ContactSource:
        """The source claiming ``location``, checked (file there, email column...)."""
        source_cls = self.registry.claiming("source", location)
        source: ContactSource = source_cls(location, self.settings_of(source_cls))
        source.validate()
        return source

    def composer(self, options: SendOptions) -> Composer:
        engine_cls = self.registry.claiming("engine", str(options.template))
        links = None
        if self.core.unsubscribe_url:
            links = UnsubscribeLinks(
                self.core.unsubscribe_url, self.core.unsubscribe_secret, self.core.unsubscribe_mailto
            )
        return Composer(
            options.template,
            engine_cls(self.settings_of(engine_cls)),
            html_path=options.html,
            subject=options.subject,
            sender=options.sender,
            default_sender=self._default_sender(),
            campaign_vars={"sender_address": self.core.sender_address},
            links=links,
            contact_variables=[
                v for v in self.pm.hook.tierii_template_variables(core=self.core, reader=self.reader) if v
            ],
            return_path=self.core.return_path,
        )

    def _default_sender(self) -> Address | None:
        if not self.core.from_email:
            return None
        try:
            return attrs.evolve(
                parse_address(self.core.from_email, "TIERII_FROM_EMAIL"), name=self.core.from_name
            )
        except ValueError as exc:
            raise ConfigurationError(f"{exc}; expected an address such as shop@example.com") from None

    def rules(self) -> list[ComplianceRule]:
        """Always-on rules (marketing ones unless transactional) plus the packs named in --rules."""
        wanted = {n.strip() for n in self.core.rules.split(",") if n.strip()}
        available = {info.name: info.cls for info in self.registry.components("rule")}
        unknown = wanted - set(available)
        if unknown:
            packs = sorted(name for name, cls in available.items() if cls.opt_in)
            raise ConfigurationError(
                f"TIERII_RULES / --rules: no rule named {', '.join(sorted(unknown))} "
                f"(installed packs: {', '.join(packs) or 'none; pip install tierii-cannabis'})"
            )
        rules = []
        for name, cls in available.items():
            if cls.opt_in and name not in wanted:
                continue
            if cls.marketing and self.core.transactional:
                continue
            rules.append(cls(self.settings_of(cls), self.core))
        return rules

    def providers(self) -> list[DeliveryProvider]:
        """The provider chain from TIERII_PROVIDER / --provider: names, or ``auto``."""
        names = [n.strip() for n in self.core.provider.split(",") if n.strip()] or ["auto"]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"TIERII_PROVIDER={self.core.provider!r}: a provider is named twice")
        return [self.provider(name) for name in names]

    def provider(self, name: str) -> DeliveryProvider:
        """The provider called ``name`` (or the ``auto`` choice), with its settings and credentials."""
        if name == "auto":
            candidates = []
            for info in self.registry.components("provider"):
                settings = self.settings_of(info.cls)
                if info.cls.is_configured(settings):
                    candidates.append((info.cls.priority, info.name, info.cls, settings))
            if not candidates:
                raise ConfigurationError("no provider is configured (and the outbox provider is disabled)")
            _, name, cls, settings = max(candidates, key=lambda c: (c[0], c[1]))
        else:
            cls = self.registry.get("provider", name)
            settings = self.settings_of(cls)
        credentials = self.pm.hook.tierii_resolve_credentials(provider=name, settings=settings)
        return cls(settings, credentials)

    def message_bucket(self) -> TokenBucket | None:
        """The user's ``--rate``, as a token bucket of messages."""
        if not self.core.rate_limit:
            return None
        return TokenBucket.for_messages(parse_rate(self.core.rate_limit, "TIERII_RATE_LIMIT"))
