"""The ``authenticated`` rule: marketing mail leaves DKIM-signed.

Gmail's and Yahoo's bulk-sender rules (2024) refuse or junk bulk mail that is not DKIM-signed
with a domain aligned to the From domain. See docs/authentication.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from tierii_core import hookimpl
from tierii_core.components import ComplianceRule, DeliveryProvider

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


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    return [Authenticated]
