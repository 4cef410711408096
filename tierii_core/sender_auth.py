"""Sender authentication before a run: the DKIM signer given to providers, the alignment
rule that comes with it, and the rules that look at the provider chain
(``ComplianceRule.check_providers``).

The runner calls :func:`equip_provider_chain` once, after choosing the providers and before
opening them; every configuration problem here is an exit 2, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tierii_core.authcheck.resolver import DNS_PREFIX, DnsSettings
from tierii_core.components import ComplianceRule, DeliveryProvider
from tierii_core.dkim import SETTINGS_PREFIX, DkimSettings
from tierii_core.errors import ConfigurationError
from tierii_core.models import CheckStep, Message

#: settings sections of the core besides CoreSettings: (title, class, prefix), for
#: ``tierii check`` and the settings reference
SETTINGS_SECTIONS: tuple[tuple[str, type, str], ...] = (
    ("dkim", DkimSettings, SETTINGS_PREFIX),
    ("dns", DnsSettings, DNS_PREFIX),
)


def load_signer(reader: Any) -> Any:
    """The DKIM signer of ``TIERII_DKIM_*`` (a :class:`~tierii_core.dkim.DkimSigner`), or None."""
    from tierii_core.dkim import signer_from_settings

    return signer_from_settings(reader.load(DkimSettings, SETTINGS_PREFIX))


def equip_provider_chain(
    providers: Sequence[DeliveryProvider], reader: Any, rules: list[ComplianceRule]
) -> None:
    """Give the DKIM signer to the providers that send serialized bytes (an API provider that
    signs with the customer's domain, such as MailerSend, has no use for it), add the
    ``dkim-aligned`` rule to ``rules`` when there is a signer, then let each rule refuse the chain."""
    signer = load_signer(reader)
    for provider in providers:
        if provider.dkim_signs:
            provider.signer = signer
    if signer is not None and any(p.signer is not None for p in providers):
        rules.append(DkimAligned(signer.domain))
    for rule in rules:
        reason = rule.check_providers(providers)
        if reason is not None:
            raise ConfigurationError(f"rule {rule.name}: {reason}")


def dkim_steps(provider: DeliveryProvider, reader: Any) -> Iterator[CheckStep]:
    """``tierii check``'s DKIM lines: who signs, with which selector and key (never the key)."""
    signer = load_signer(reader)
    if provider.signs_for_sender:
        unused = "; TIERII_DKIM_* is not used with it" if signer is not None else ""
        yield CheckStep("dkim", True, f"{provider.name} signs with your own domain itself{unused}")
        return
    if signer is None:
        yield CheckStep("dkim", True, "no key configured (TIERII_DKIM_*): messages are not signed")
        return
    if not provider.dkim_signs:
        yield CheckStep("dkim", False, f"{provider.name} does not send TierII's signed bytes: no signature")
        return
    for key in signer.keys:
        yield CheckStep(
            "dkim", True, f"signing as d={signer.domain}, s={key.selector} ({key.algorithm}, {key.bits} bits)"
        )


class DkimAligned(ComplianceRule):
    """Messages TierII signs have a From domain aligned with TIERII_DKIM_DOMAIN (DMARC relaxed).

    Not registered through the hook: :func:`equip_provider_chain` adds it to the run's rules when
    a key signs, so that the opening messages are checked (exit 2) and each later one too."""

    name = "dkim-aligned"
    marketing = False

    def __init__(self, domain: str) -> None:
        super().__init__(None, None)
        self.domain = domain

    def check_message(self, message: Message) -> str | None:
        from_domain = message.sender.email.rpartition("@")[2].lower()
        if from_domain == self.domain:
            return None  # the signing domain itself: aligned without reading the suffix list
        from tierii_core.orgdomain import aligned, organisational_domain

        if aligned(from_domain, self.domain):
            return None
        return (
            f"the From domain {from_domain} (organisational domain {organisational_domain(from_domain)}) "
            f"does not align with TIERII_DKIM_DOMAIN={self.domain} (organisational domain "
            f"{organisational_domain(self.domain)}): DMARC would fail; sign with the From domain "
            f"or send from {self.domain} (RFC 7489 §3.1)"
        )
