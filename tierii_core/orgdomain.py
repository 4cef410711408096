"""Organisational domains (RFC 7489 §3.2) and DMARC's relaxed alignment.

The Public Suffix List comes from the ``publicsuffixlist`` package, which ships a recent copy
of the list inside the package and never fetches it (no network at run time); it is released
with each change of the list, so upgrading the package updates it. Imported on first use.
"""

from __future__ import annotations

import functools


@functools.cache
def _suffixes():  # type: ignore[no-untyped-def]
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def normalise(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


@functools.lru_cache(maxsize=256)
def organisational_domain(domain: str) -> str:
    """The registered domain: one label more than the public suffix (``mail.shop.co.uk`` ->
    ``shop.co.uk``); a name that is itself a public suffix is its own."""
    name = normalise(domain)
    return _suffixes().privatesuffix(name) or name


def aligned(domain: str, other: str, *, strict: bool = False) -> bool:
    """DMARC alignment: the same name (strict), or the same organisational domain (relaxed)."""
    if strict:
        return normalise(domain) == normalise(other)
    return organisational_domain(domain) == organisational_domain(other)
