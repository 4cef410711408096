"""Checking and normalising recipient addresses, for every contact source.

email-validator does the job properly (RFC 5321/5322, IDNA, special-use domains) but costs
~100 µs an address, most of a dry run's time. Plain addresses (an ASCII dot-atom at an ASCII
host name) are checked here by a strict pattern in ~1 µs, with the same result; anything else
goes to email-validator. A property test holds the two to the same answers.
"""

from __future__ import annotations

import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")


class InvalidAddress(ValueError):
    """Why an address cannot be used."""


def normalise_address(text: str) -> str:
    """The address to send to: the domain lower-case ASCII (IDNA), the local part as written.

    Raises :class:`InvalidAddress` with email-validator's explanation. Addresses that need
    SMTPUTF8 (a non-ASCII local part) are refused: not every server takes them.
    """
    text = text.strip()
    match = _PLAIN.fullmatch(text)
    if match is not None and len(match.group(1)) <= 64 and len(text) <= 254:
        domain = match.group(2).lower()
        # "ab--" labels are reserved (IDNA A-labels such as xn--): email-validator checks those
        reserved = any(label[2:4] == "--" for label in domain.split("."))
        if len(domain) <= 253 and not _special(domain) and not reserved:
            return f"{match.group(1)}@{domain}"
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return valid.ascii_email or valid.normalized


#: email-validator's special-use domains (RFC 6761 and friends), which it refuses. Copied, not
#: imported: importing email-validator costs ~30 ms that a campaign of plain addresses never
#: needs; tests/test_addresses.py holds the copy equal to the library's list.
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def _special(domain: str) -> bool:
    return any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAINS)
