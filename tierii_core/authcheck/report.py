"""The findings of ``tierii check --auth``: SPF, DKIM, DMARC and alignment, each one line,
then advice, then the verdict against the Gmail/Yahoo bulk-sender rules.

Only SPF, DKIM, DMARC and alignment problems make the verdict fail (exit 1); reverse DNS,
TLS and one-click unsubscribe are advice.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from attrs import Factory, define, frozen

from tierii_core.authcheck import dmarc, spf
from tierii_core.authcheck.resolver import DnsFailure, Lookup
from tierii_core.orgdomain import aligned, organisational_domain

RULES = "Gmail and Yahoo bulk-sender rules (2024)"


@frozen
class Finding:
    """One checked item: ``area`` (spf, dkim, dmarc, alignment), what was found, and the problem."""

    area: str
    detail: str
    problem: str | None = None
    unanswered: bool = False  # DNS did not answer: nothing is known about this item

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {"area": self.area, "ok": self.ok, "detail": self.detail, "problem": self.problem}


@define
class AuthReport:
    domain: str
    findings: list[Finding] = Factory(list)
    advice: list[str] = Factory(list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    @property
    def exit_code(self) -> int:
        """0 all in place, 1 something missing or wrong, 3 DNS did not answer (check again)."""
        if any(f.unanswered for f in self.findings):
            return 3
        return 1 if self.problems else 0

    @property
    def verdict(self) -> str:
        if any(f.unanswered for f in self.findings):
            return (
                f"DNS did not answer every question about {self.domain}: nothing is judged; check "
                "TIERII_DNS_SERVERS (or the system's resolver) and run again"
            )
        if not self.problems:
            return f"{self.domain} meets the {RULES} for SPF, DKIM, DMARC and alignment"
        fixes = "; ".join(f"{f.area}: {f.problem}" for f in self.problems)
        return f"{self.domain} does not meet the {RULES}. To fix: {fixes}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "findings": [f.as_dict() for f in self.findings],
            "advice": list(self.advice),
            "verdict": self.verdict,
            "ok": not self.problems,
            "exit_code": self.exit_code,
        }


@frozen
class Sending:
    """How mail will leave: what the check must know about the provider."""

    provider: str = ""
    signs_for_sender: bool = False  # the provider DKIM-signs with the customer's domain
    relay: str | None = None  # the SMTP relay's host, to evaluate SPF for its address
    tls: bool = True
    unsubscribe_url: str = ""


def check_domain(domain: str, lookup: Lookup, signer: Any, sending: Sending) -> AuthReport:
    """Every finding for mail From ``domain`` signed by ``signer`` (a DkimSigner or None)."""
    report = AuthReport(domain)
    relay_ips = _relay_addresses(sending.relay, lookup, report) if sending.relay else []
    report.findings.append(check_spf(domain, lookup, relay_ips, report.advice))
    report.findings.extend(check_dkim(domain, lookup, signer, sending))
    record, finding = check_dmarc(domain, lookup, report.advice)
    report.findings.append(finding)
    report.findings.append(check_alignment(domain, signer, sending, record))
    _advice(report, lookup, relay_ips, sending)
    return report


# -- SPF --------------------------------------------------------------------------------------


def check_spf(domain: str, lookup: Lookup, relay_ips: Sequence[str], advice: list[str]) -> Finding:
    evaluator = spf.Evaluator(lookup)
    try:
        record = evaluator.record_of(domain)
    except spf.PermError as exc:
        return Finding("spf", f"{domain}: invalid", f"{exc} (RFC 7208)")
    except spf.TempError as exc:
        return Finding("spf", f"{domain}: no answer", f"the SPF lookup failed: {exc}", unanswered=True)
    if record is None:
        return Finding(
            "spf",
            f"{domain}: no SPF record",
            f"publish a TXT record at {domain} such as 'v=spf1 ip4:YOUR.RELAY.IP -all' "
            "naming the hosts that send your mail",
        )
    qualifier = record.all_qualifier
    try:
        lookups = spf.count_lookups(evaluator, domain)
    except spf.PermError as exc:
        return Finding("spf", f'"{record.text}"', f"cannot follow its includes: {exc}")
    except spf.TempError as exc:
        return Finding("spf", f'"{record.text}"', f"an include did not answer: {exc}", unanswered=True)
    shown_all = {None: "no 'all'", "-": "-all", "~": "~all", "?": "?all", "+": "+all"}[qualifier]
    detail = f'"{record.text}": parses; {shown_all}; {lookups} of {spf.MAX_LOOKUPS} DNS lookups'
    if qualifier == "+":
        return Finding(
            "spf", detail, "'+all' lets every host on the Internet send as you: end with -all or ~all"
        )
    if lookups > spf.MAX_LOOKUPS:
        return Finding(
            "spf",
            detail,
            f"{lookups} DNS lookups, over RFC 7208's limit of {spf.MAX_LOOKUPS}: receivers answer permerror; "
            "flatten includes into ip4:/ip6: terms",
        )
    if qualifier in (None, "?"):
        advice.append(f"SPF ends with {shown_all}: hosts you did not list are neutral; end with -all or ~all")
    for ip in relay_ips:
        result = evaluator.check_host(ip, domain, f"postmaster@{domain}")
        if result.result != "pass":
            why = f" ({result.reason})" if result.reason else ""
            return Finding(
                "spf",
                f"{detail}; relay {ip}: {result.result}{why}",
                f"the SMTP relay's address {ip} is not permitted: add 'ip4:{ip}' (or an include of your "
                "relay's SPF) to the record",
            )
        detail += f"; relay {ip}: pass ({result.term})"
    return Finding("spf", detail)


def _relay_addresses(relay: str, lookup: Lookup, report: AuthReport) -> list[str]:
    try:
        return [str(ipaddress.ip_address(relay))]
    except ValueError:
        pass
    try:
        found = lookup.addresses(relay, "A") + lookup.addresses(relay, "AAAA")
    except DnsFailure as exc:
        report.advice.append(f"the relay {relay} could not be resolved ({exc}): its SPF was not evaluated")
        return []
    if not found:
        report.advice.append(f"the relay {relay} has no address in DNS: its SPF was not evaluated")
    return found


# -- DKIM -------------------------------------------------------------------------------------


def check_dkim(domain: str, lookup: Lookup, signer: Any, sending: Sending) -> list[Finding]:
    if sending.signs_for_sender:
        return [
            Finding(
                "dkim",
                f"{sending.provider} signs your mail with the domain you verified there; "
                "TierII's own key (TIERII_DKIM_*) is not used and not checked",
            )
        ]
    if signer is None:
        return [
            Finding(
                "dkim",
                "no DKIM key configured",
                "configure a key: TIERII_DKIM_DOMAIN, TIERII_DKIM_SELECTOR, TIERII_DKIM_PRIVATE_KEY_FILE "
                "(docs/authentication.md)",
            )
        ]
    return [_check_key(signer.domain, key, lookup, domain) for key in signer.keys]


def _check_key(dkim_domain: str, key: Any, lookup: Lookup, from_domain: str) -> Finding:
    import dkim

    name = f"{key.selector}._domainkey.{dkim_domain}"
    label = f"{name} ({key.algorithm}, {key.bits} bits)"
    try:
        records = lookup.txt(name)
    except DnsFailure as exc:
        return Finding("dkim", label, f"the lookup failed: {exc}", unanswered=True)
    if not records:
        return Finding("dkim", f"{label}: no record", f"publish a TXT record at {name}: {key.dns_record()}")
    message = (
        f"From: check@{from_domain}\r\nTo: check@{from_domain}\r\nSubject: tierii check --auth\r\n"
        f"Message-ID: <auth-check@{from_domain}>\r\n\r\nA DKIM test.\r\n"
    ).encode("ascii")
    try:
        signature = dkim.sign(
            message,
            key.selector.encode("ascii"),
            dkim_domain.encode("ascii"),
            key.dkimpy_private_key(),
            signature_algorithm=key.algorithm.encode("ascii"),
            include_headers=[b"from", b"to", b"subject"],
        )
        verified = dkim.verify(signature + message, dnsfunc=lookup.dkimpy_txt)
    except dkim.DKIMException as exc:  # pragma: no cover - dkimpy's signer refusing our key
        return Finding("dkim", label, f"dkimpy could not sign with the key: {exc}")
    if verified:
        return Finding("dkim", f"{label}: the record matches the configured key (signed and verified)")
    published = _tag(records[0], "p")
    if published is not None and published.replace(" ", "") != key.public_key_b64():
        why = "is empty (the key is revoked)" if not published else "is another key"
        return Finding(
            "dkim",
            f"{label}: a signature made with the configured key does not verify",
            f"the record's p= {why}; publish the configured key's record at {name}: {key.dns_record()}",
        )
    return Finding(
        "dkim",
        f"{label}: a signature made with the configured key does not verify",
        f"the record at {name} is not a valid DKIM key record; publish: {key.dns_record()}",
    )


def _tag(record: str, tag: str) -> str | None:
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals and name.strip() == tag:
            return value.strip()
    return None


# -- DMARC and alignment ----------------------------------------------------------------------


def check_dmarc(domain: str, lookup: Lookup, advice: list[str]) -> tuple[dmarc.DmarcRecord | None, Finding]:
    try:
        where, records = dmarc.find(lookup, domain)
    except DnsFailure as exc:
        failed = Finding(
            "dmarc", f"_dmarc.{domain}: no answer", f"the DMARC lookup failed: {exc}", unanswered=True
        )
        return None, failed
    if not records:
        return None, Finding(
            "dmarc",
            f"{where}: no DMARC record",
            f"publish a TXT record at _dmarc.{domain} such as "
            f"'v=DMARC1; p=none; rua=mailto:dmarc@{domain}' (Gmail and Yahoo require one)",
        )
    if len(records) > 1:
        return None, Finding("dmarc", f"{where}: {len(records)} records", "publish exactly one DMARC record")
    try:
        record = dmarc.parse(records[0], where)
    except dmarc.DmarcError as exc:
        return None, Finding("dmarc", f'{where}: "{records[0]}"', f"invalid: {exc}")
    rua = ", ".join(record.rua) if record.rua else "none"
    detail = f'{where}: "{record.text}": p={record.policy}, rua={rua}'
    if record.policy == "none":
        advice.append(
            "DMARC p=none only monitors (Gmail and Yahoo accept it): once the reports show your mail "
            "passing, move to p=quarantine or p=reject"
        )
    if not record.rua:
        advice.append(f"DMARC has no rua=: add rua=mailto:dmarc@{domain} to receive aggregate reports")
    return record, Finding("dmarc", detail)


def check_alignment(domain: str, signer: Any, sending: Sending, record: dmarc.DmarcRecord | None) -> Finding:
    strict_dkim = record is not None and record.adkim == "s"
    mode = "strict" if strict_dkim else "relaxed"
    # TierII's SMTP provider uses the From address as the envelope sender: SPF's domain is the From's
    spf_note = f"SPF domain {domain} (the envelope sender is the From address)"
    if sending.signs_for_sender:
        return Finding(
            "alignment",
            f"From {domain}; DKIM by {sending.provider}: aligned when the domain verified there is "
            f"{organisational_domain(domain)} or under it",
        )
    if signer is None:
        return Finding(
            "alignment",
            f"From {domain}: no DKIM signature to align",
            "configure a DKIM key for the From domain",
        )
    if not aligned(domain, signer.domain, strict=strict_dkim):
        return Finding(
            "alignment",
            f"From {domain}, DKIM d={signer.domain} ({mode})",
            f"the From domain {domain} and the DKIM domain {signer.domain} (TIERII_DKIM_DOMAIN) do not "
            f"align ({mode}: organisational domains {organisational_domain(domain)} and "
            f"{organisational_domain(signer.domain)}): sign with {domain}'s own domain",
        )
    return Finding("alignment", f"From {domain}, DKIM d={signer.domain}: aligned ({mode}); {spf_note}")


# -- advice -----------------------------------------------------------------------------------


def _advice(report: AuthReport, lookup: Lookup, relay_ips: Sequence[str], sending: Sending) -> None:
    for ip in relay_ips:
        try:
            names = lookup.ptr(ip)
            confirmed = [n for n in names if ip in lookup.addresses(n, "A" if "." in ip else "AAAA")]
        except DnsFailure:
            names, confirmed = [], []
        if not confirmed:
            report.advice.append(
                f"reverse DNS: {ip} has no PTR name that resolves back to it; Gmail and Yahoo expect one "
                "(ask whoever runs the relay's network)"
            )
    if not sending.tls:
        report.advice.append("TLS: TIERII_SMTP_SECURITY=none: Gmail and Yahoo expect TLS on the way")
    if not sending.unsubscribe_url:
        report.advice.append(
            "one-click unsubscribe: set TIERII_UNSUBSCRIBE_URL and TIERII_UNSUBSCRIBE_SECRET (RFC 8058)"
        )
