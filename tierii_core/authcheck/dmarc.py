"""DMARC records (RFC 7489 §6.3): find the record that applies to a domain and read it."""

from __future__ import annotations

from attrs import frozen

from tierii_core.orgdomain import normalise, organisational_domain

POLICIES = ("none", "quarantine", "reject")


class DmarcError(ValueError):
    """The record is not a valid DMARC record; the message says why."""


@frozen
class DmarcRecord:
    """The tags that matter to a sender."""

    text: str
    found_at: str  # _dmarc.<domain> where it was published
    policy: str
    rua: tuple[str, ...] = ()
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100


def parse(text: str, found_at: str) -> DmarcRecord:
    tags: dict[str, str] = {}
    parts = [p.strip() for p in text.strip().rstrip(";").split(";")]
    for index, part in enumerate(parts):
        name, equals, value = part.partition("=")
        name = name.strip().lower()
        if not equals:
            raise DmarcError(f"{part!r} is not tag=value")
        if index == 0 and (name != "v" or value.strip() != "DMARC1"):
            raise DmarcError("it must start with v=DMARC1")
        tags.setdefault(name, value.strip())
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        shown = f"p={tags['p']}" if "p" in tags else "no p= tag"
        raise DmarcError(f"{shown}: the policy must be p=none, p=quarantine or p=reject")
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r").lower() not in ("r", "s"):
            raise DmarcError(f"{tag}={tags[tag]}: expected r (relaxed) or s (strict)")
    rua = tuple(u.strip() for u in tags.get("rua", "").split(",") if u.strip())
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError:
        raise DmarcError(f"pct={tags['pct']}: expected a number from 0 to 100") from None
    return DmarcRecord(
        text,
        found_at,
        policy,
        rua,
        tags.get("adkim", "r").lower(),
        tags.get("aspf", "r").lower(),
        pct,
    )


def find(lookup: object, domain: str) -> tuple[str, list[str]]:
    """(where, DMARC TXT records) for ``domain``: its own ``_dmarc`` name, else its
    organisational domain's (RFC 7489 §6.6.3). DnsFailure passes through."""
    domain = normalise(domain)
    candidates = [domain]
    organisational = organisational_domain(domain)
    if organisational != domain:
        candidates.append(organisational)
    for candidate in candidates:
        where = f"_dmarc.{candidate}"
        texts = lookup.txt(where)  # type: ignore[attr-defined]
        records = [t for t in texts if t.strip().lower().startswith("v=dmarc1")]
        if records:
            return where, records
    return f"_dmarc.{domain}", []
