"""Sender authentication rules and settings: DKIM alignment, and ``authenticated`` marketing mail.

Gmail's and Yahoo's bulk-sender rules (2024) refuse or junk bulk mail that is not DKIM-signed
with a domain aligned to the From domain. See docs/authentication.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tierii_core import hookimpl
from tierii_core.components import ComplianceRule, DeliveryProvider
from tierii_core.models import Message

BULK_SENDERS = "Gmail and Yahoo bulk-sender requirements (2024)"


class Authenticated(ComplianceRule):
    """Marketing mail leaves DKIM-signed: with TierII's key (TIERII_DKIM_*) or by a provider that signs."""

    name = "authenticated"

    def check_providers(self, providers: Sequence[DeliveryProvider]) -> str | None:
        unsigned = [
            p.name
            for p in providers
            if p.delivers and not p.signs_for_sender and not (p.dkim_signs and p.signer is not None)
        ]
        if not unsigned:
            return None
        return (
            f"provider {', '.join(unsigned)} would send marketing mail without a DKIM signature "
            f"({BULK_SENDERS}). Either configure a key (TIERII_DKIM_DOMAIN, TIERII_DKIM_SELECTOR, "
            "TIERII_DKIM_PRIVATE_KEY_FILE: see docs/authentication.md), or, when your SMTP relay "
            "DKIM-signs with your domain itself, say so with TIERII_SMTP_RELAY_SIGNS=true "
            "(--transactional for transactional mail)"
        )


class DkimAligned(ComplianceRule):
    """When TIERII_DKIM_DOMAIN is set, the From domain shares its organisational domain (DMARC)."""

    name = "dkim-aligned"
    marketing = False

    def __init__(self, settings: Any, core: Any) -> None:
        from tierii_core.dkim import SETTINGS_PREFIX, DkimSettings
        from tierii_core.settings import SettingsReader

        super().__init__(settings, core)
        self.domain = SettingsReader().load(DkimSettings, SETTINGS_PREFIX).domain.strip().lower().rstrip(".")

    def check_message(self, message: Message) -> str | None:
        if not self.domain:
            return None
        from tierii_core.orgdomain import aligned, organisational_domain

        from_domain = message.sender.email.rpartition("@")[2].lower()
        if aligned(from_domain, self.domain):
            return None
        return (
            f"the From domain {from_domain} (organisational domain {organisational_domain(from_domain)}) "
            f"does not align with TIERII_DKIM_DOMAIN={self.domain} (organisational domain "
            f"{organisational_domain(self.domain)}): DMARC would fail; sign with the From domain "
            f"or send from {self.domain} (RFC 7489 §3.1)"
        )


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    return [Authenticated, DkimAligned]


@hookimpl
def tierii_plugin_settings() -> list[tuple[str, type]]:
    from tierii_core.authcheck.resolver import DNS_PREFIX, DnsSettings
    from tierii_core.dkim import SETTINGS_PREFIX, DkimSettings

    return [(SETTINGS_PREFIX, DkimSettings), (DNS_PREFIX, DnsSettings)]
