"""A campaign's identity (what it is sent with) recorded before it is sent, and the approval
gate of ``TIERII_REQUIRE_APPROVAL`` (a marketing send of content nobody approved stops, exit 2).

The store is :mod:`~tierii_core.campaign_store`; this module says what goes in and what a
send needs from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from tierii_core.campaign_store import CampaignStore, Identity, content_hash, template_files
from tierii_core.components import ComplianceRule
from tierii_core.errors import ConfigurationError
from tierii_core.logs import get_logger
from tierii_core.options import SendOptions
from tierii_core.state import Where, check_state

log = get_logger()


def identity_of(
    campaign_id: str,
    options: SendOptions,
    rules: Sequence[ComplianceRule],
    rule_plugins: dict[str, str],
    providers: tuple[str, ...],
    pm: Any,
) -> Identity:
    """The templates' content hashes, the rules and the versions of the packs providing them
    (``rule_plugins``: rule name -> plugin name), the providers, the segment."""
    from tierii_core import __version__

    templates = template_files([options.template, options.html])
    sources = getattr(pm, "sources", {})
    versions = []
    for rule in rules:
        source = sources.get(rule_plugins.get(rule.name, ""))
        versions.append((rule.name, (source.version if source else __version__) or "unknown"))
    return Identity(
        campaign_id,
        content_hash(templates),
        templates,
        tuple(versions),
        providers,
        tuple(options.where),
        time.time(),
    )


def record_identity(where: Where, identity: Identity) -> None:
    store = CampaignStore(check_state(where))
    try:
        store.save_identity(identity)
    finally:
        store.close()


def require_approval(where: Where, identity: Identity) -> None:
    """Raise unless someone approved this campaign's content as it is now."""
    campaign = identity.campaign
    store = CampaignStore(check_state(where))
    try:
        approval = store.approval(campaign, identity.content_hash)
        earlier = store.identity(campaign)
    finally:
        store.close()
    if approval is not None:
        log.info("campaign.approved", campaign=campaign, by=approval.approved_by)
        return
    changed = ""
    if earlier is not None and earlier.content_hash != identity.content_hash:
        changed = " (the templates changed since the last proof or send: an approval binds the content)"
    raise ConfigurationError(
        f"campaign {campaign} is not approved{changed}; TIERII_REQUIRE_APPROVAL=true needs a "
        f"sign-off first: send a proof (--proof ADDRESS), then tierii approve {campaign} --by NAME"
    )
