"""What one ``tierii send``/``preview`` asks for, and the campaign's name derived from it."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from tierii_core.redact import mask_credentials


@frozen
class SendOptions:
    """The command-line options of a send or preview, already parsed."""

    contacts: str
    template: Path
    html: Path | None = None
    subject: str | None = None
    sender: str | None = None
    campaign: str | None = None
    dry_run: bool = False
    limit: int | None = None
    retry_failed: bool = False
    retry_unknown: bool = False
    where: tuple[str, ...] = ()  # --where: the segment (all must hold); not part of the campaign's name
    proof: tuple[str, ...] = ()  # --proof: reviewers' addresses; nothing is journalled
    schedule: Any = None  # --at/--window: a tierii_core.schedule.Schedule, or None to send now


def campaign_id(options: SendOptions) -> str:
    """A stable name for a campaign: which contacts get which template.

    The contacts' location and the template files' paths make the campaign; how mail leaves
    (the provider, a fallback), the subject and sender options and edits to the templates'
    text do not, so switching providers or fixing a typo never sends the campaign again to
    people who had it. A user who means a new campaign passes ``--campaign NAME``.
    """
    if options.campaign:
        return options.campaign
    # credentials masked: a database password rotated mid-campaign is still the same campaign
    return _digest(options, [], location=mask_credentials(options.contacts))


def legacy_campaign_id(options: SendOptions, providers: Sequence[str]) -> str:
    """The name TierII 0.1 gave the same campaign (it also hashed the subject and providers):
    a campaign begun before the upgrade resumes under it instead of starting over."""
    return _digest(options, [options.subject or "", ",".join(providers)], location=options.contacts)


def resumed_campaign_id(options: SendOptions, providers: Sequence[str], known: Collection[str]) -> str:
    """The campaign's id; a campaign begun before ids left out the providers is found in the
    journal (``known``) under its old id, and resumed there."""
    name = campaign_id(options)
    if options.campaign:
        return name
    legacy = legacy_campaign_id(options, providers)
    return legacy if name not in known and legacy in known else name


def _digest(options: SendOptions, extra: list[str], *, location: str) -> str:
    parts = [
        str(Path(options.contacts).resolve()) if Path(options.contacts).exists() else location,
        str(options.template.resolve()),
        str(options.html.resolve()) if options.html else "",
        *extra,
    ]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]
    return f"{Path(options.template).stem}-{digest}"
