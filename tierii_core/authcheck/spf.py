"""SPF (RFC 7208): parse a record, count its DNS lookups, evaluate ``check_host()`` for an IP.

A small evaluator on any DNS source with ``txt``, ``addresses``, ``mx`` and ``ptr`` (the
:class:`~tierii_core.authcheck.resolver.Lookup`; the tests also use RFC 7208's own test suite
through an in-memory source). pyspf, the reference implementation, is unmaintained.
Explanations (``exp=``) are not evaluated: TierII only needs the result.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any, Protocol

from attrs import define, frozen

from tierii_core.authcheck.resolver import DnsFailure

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_VOID = 2
MAX_MX_OR_PTR = 10

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
COUNTED = ("include", "a", "mx", "ptr", "exists")
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$", re.S)
_DIRECTIVE = re.compile(r"^([-+?~]?)([A-Za-z][A-Za-z0-9_.-]*)(.*)$", re.S)
_DUAL_CIDR = re.compile(r"^(?:/(\d+))?(?://(\d+))?$")
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")
_MACRO = re.compile(r"%\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.\-+,/_=]*)\}|%%|%_|%-|%", re.I)


class Source(Protocol):
    def txt(self, name: str) -> list[str]: ...
    def addresses(self, name: str, rdtype: str = "A") -> list[str]: ...
    def mx(self, name: str) -> list[str]: ...
    def ptr(self, address: str) -> list[str]: ...


class PermError(Exception):
    """The record is wrong (syntax, too many lookups): the result is ``permerror``."""


class TempError(Exception):
    """DNS did not answer: the result is ``temperror``."""


@frozen
class Term:
    """One directive (``qualifier`` + mechanism) or modifier of a record."""

    name: str
    value: str | None = None  # the domain-spec or address, as written
    qualifier: str = "+"
    cidr4: int | None = None
    cidr6: int | None = None
    modifier: bool = False


@frozen
class Record:
    """A parsed SPF record."""

    text: str
    terms: tuple[Term, ...]

    @property
    def directives(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.modifier)

    def modifier(self, name: str) -> Term | None:
        return next((t for t in self.terms if t.modifier and t.name == name), None)

    @property
    def all_qualifier(self) -> str | None:
        """The qualifier of the ``all`` mechanism (``-``, ``~``, ``?``, ``+``), None without one."""
        return next((t.qualifier for t in self.directives if t.name == "all"), None)


def is_spf(text: str) -> bool:
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def parse(text: str) -> Record:
    """Parse ``v=spf1 ...``; PermError naming the bad term (RFC 7208 §4.6: errors anywhere count)."""
    if not is_spf(text):
        raise PermError(f"not an SPF record: {text!r}")
    if not text.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise PermError("the record holds characters outside printable ASCII")
    terms: list[Term] = []
    for word in text[6:].split(" "):
        if not word:
            continue
        modifier = _MODIFIER.match(word)
        if modifier and ":" not in modifier.group(1) and modifier.group(1).lower() not in MECHANISMS:
            name, value = modifier.group(1).lower(), modifier.group(2)
            if name in ("redirect", "exp"):
                if any(t.modifier and t.name == name for t in terms):
                    raise PermError(f"{name}= appears twice")
                _check_domain_spec(value, word)
            else:
                _check_macro_string(value, word)
            terms.append(Term(name, value, modifier=True))
            continue
        terms.append(_directive(word))
    return Record(text, tuple(terms))


def _directive(word: str) -> Term:
    match = _DIRECTIVE.match(word)
    if not match:
        raise PermError(f"cannot read the term {word!r}")
    qualifier, name, rest = match.group(1) or "+", match.group(2).lower(), match.group(3)
    if name not in MECHANISMS:
        raise PermError(f"unknown mechanism {word!r}")
    if name == "all":
        if rest:
            raise PermError(f"'all' takes no argument: {word!r}")
        return Term(name, None, qualifier)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise PermError(f"{name} needs an address: {word!r}")
        address, _, cidr = rest[1:].partition("/")
        try:
            if name == "ip4":
                ipaddress.IPv4Address(address)
            else:
                ipaddress.IPv6Address(address)
            length = int(cidr) if cidr else None
        except ValueError:
            raise PermError(f"bad address in {word!r}") from None
        if cidr and (not cidr.isdigit() or (cidr.startswith("0") and cidr != "0")):
            raise PermError(f"bad prefix length in {word!r}")
        limit = 32 if name == "ip4" else 128
        if length is not None and length > limit:
            raise PermError(f"prefix length over {limit} in {word!r}")
        if name == "ip4":
            return Term(name, address, qualifier, cidr4=length)
        return Term(name, address, qualifier, cidr6=length)
    domain, cidr = rest, ""
    if name in ("a", "mx"):
        slash = _cidr_start(rest)
        domain, cidr = rest[:slash], rest[slash:]
    if domain:
        if not domain.startswith(":") or len(domain) == 1:
            raise PermError(f"bad domain in {word!r}")
        domain = domain[1:]
        _check_domain_spec(domain, word)
    elif name in ("include", "exists"):
        raise PermError(f"{name} needs a domain: {word!r}")
    if name == "ptr" and cidr:
        raise PermError(f"ptr takes no prefix length: {word!r}")
    cidr4 = cidr6 = None
    if cidr:
        lengths = _DUAL_CIDR.match(cidr)
        if not lengths:
            raise PermError(f"bad prefix length in {word!r}")
        for text in (lengths.group(1), lengths.group(2)):
            if text and len(text) > 1 and text.startswith("0"):
                raise PermError(f"bad prefix length in {word!r}")
        cidr4 = int(lengths.group(1)) if lengths.group(1) else None
        cidr6 = int(lengths.group(2)) if lengths.group(2) else None
        if (cidr4 is not None and cidr4 > 32) or (cidr6 is not None and cidr6 > 128):
            raise PermError(f"prefix length out of range in {word!r}")
    return Term(name, domain or None, qualifier, cidr4, cidr6)


def _cidr_start(rest: str) -> int:
    """Where the ``/n//m`` suffix of an a/mx argument starts (after any macros)."""
    match = re.search(r"(/\d*)?(//\d*)?$", rest)
    return match.start() if match and match.group(0) else len(rest)


def _check_macro_string(value: str, word: str) -> None:
    position = 0
    for match in _MACRO.finditer(value):
        if match.group(0) == "%":
            raise PermError(f"bad macro in {word!r}")
        position = match.end()
    del position


def _check_domain_spec(spec: str, word: str) -> None:
    _check_macro_string(spec, word)
    for match in _MACRO.finditer(spec):
        if match.group(1) and match.group(1).lower() in "crt":
            raise PermError(f"macro %{{{match.group(1)}}} is for explanations only: {word!r}")
    if spec.endswith("}") and "%{" in spec:
        return  # ends with a macro: checked once expanded
    name = spec[:-1] if spec.endswith(".") else spec
    labels = name.split(".")
    if len(labels) < 2 or not _TOPLABEL.match(labels[-1]):
        raise PermError(f"bad domain {spec!r} in {word!r}")


def lookup_count(record: Record) -> int:
    """The DNS-querying terms of the record itself (include, a, mx, ptr, exists, redirect)."""
    return sum(1 for t in record.directives if t.name in COUNTED) + (1 if record.modifier("redirect") else 0)


@frozen
class Result:
    """``check_host()``'s answer, the term that decided it, and why (for errors)."""

    result: str  # pass, fail, softfail, neutral, none, permerror, temperror
    term: str = ""
    reason: str = ""


QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


@define
class _Budget:
    lookups: int = 0
    void: int = 0


class Evaluator:
    """``check_host(ip, domain, sender)`` over a DNS source, with RFC 7208's limits."""

    def __init__(self, dns: Source, helo: str = "") -> None:
        self.dns = dns
        self.helo = helo

    def check_host(self, ip: str, domain: str, sender: str) -> Result:
        try:
            address = _client_address(ip)
        except ValueError:
            return Result("permerror", reason=f"{ip!r} is not an IP address")
        sender = sender if "@" in sender else f"postmaster@{sender}"
        budget = _Budget()
        try:
            return self._check(address, domain, sender, budget, top=True)
        except PermError as exc:
            return Result("permerror", reason=str(exc))
        except TempError as exc:
            return Result("temperror", reason=str(exc))

    def record_of(self, domain: str) -> Record | None:
        """The domain's SPF record, None when it has none; PermError for two; TempError."""
        try:
            texts = [t for t in self.dns.txt(domain) if is_spf(t)]
        except DnsFailure as exc:
            raise TempError(str(exc)) from None
        if len(texts) > 1:
            raise PermError(f"{domain} has {len(texts)} SPF records; RFC 7208 §4.5 allows one")
        return parse(texts[0]) if texts else None

    def _check(self, ip: Any, domain: str, sender: str, budget: _Budget, top: bool = False) -> Result:
        if not _valid_domain(domain):
            return Result("none", reason=f"{domain!r} is not a domain name")
        record = self.record_of(domain)
        if record is None:
            return Result("none", reason=f"{domain} has no SPF record")
        for term in record.directives:
            if self._matches(term, ip, domain, sender, budget):
                return Result(QUALIFIERS[term.qualifier], _show(term))
        redirect = record.modifier("redirect")
        if redirect is not None:
            self._count(budget)
            target = self._expand(redirect.value or "", ip, domain, sender)
            result = self._check(ip, target, sender, budget)
            if result.result == "none":
                raise PermError(f"redirect={target}: {target} has no SPF record")
            return result
        return Result("neutral", reason="no mechanism matched and there is no 'all'")

    def _count(self, budget: _Budget) -> None:
        budget.lookups += 1
        if budget.lookups > MAX_LOOKUPS:
            raise PermError(f"more than {MAX_LOOKUPS} DNS lookups (RFC 7208 §4.6.4)")

    def _void(self, budget: _Budget, answers: list[str]) -> list[str]:
        if not answers:
            budget.void += 1
            if budget.void > MAX_VOID:
                raise PermError(f"more than {MAX_VOID} lookups found nothing (RFC 7208 §4.6.4)")
        return answers

    def _ask(self, method: str, *args: str) -> list[str]:
        try:
            return getattr(self.dns, method)(*args)
        except DnsFailure as exc:
            raise TempError(str(exc)) from None

    def _matches(self, term: Term, ip: Any, domain: str, sender: str, budget: _Budget) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            network = ipaddress.ip_network(
                f"{term.value}/{term.cidr4 if name == 'ip4' else term.cidr6}"
                if (term.cidr4 if name == "ip4" else term.cidr6) is not None
                else term.value,
                strict=False,
            )
            return ip.version == network.version and ip in network
        self._count(budget)
        target = self._expand(term.value, ip, domain, sender) if term.value else domain
        if name == "include":
            result = self._check(ip, target, sender, budget)
            if result.result == "pass":
                return True
            if result.result in ("fail", "softfail", "neutral"):
                return False
            if result.result == "temperror":
                raise TempError(result.reason)
            raise PermError(f"include:{target}: {result.reason or result.result}")
        if name == "exists":
            return bool(self._void(budget, self._ask("addresses", target, "A")))
        if name == "a":
            return self._in_hosts(ip, [target], term, budget, void=True)
        if name == "mx":
            hosts = self._void(budget, self._ask("mx", target))
            if len(hosts) > MAX_MX_OR_PTR:
                raise PermError(f"{target} has more than {MAX_MX_OR_PTR} MX records")
            return self._in_hosts(ip, hosts, term, budget)
        if name == "ptr":
            return any(
                n.lower().rstrip(".") == target.lower()
                or n.lower().rstrip(".").endswith("." + target.lower())
                for n in self._validated_names(ip, budget)
            )
        raise PermError(f"unknown mechanism {name}")  # pragma: no cover - parse refuses these

    def _in_hosts(self, ip: Any, hosts: list[str], term: Term, budget: _Budget, void: bool = False) -> bool:
        rdtype, length = ("A", term.cidr4) if ip.version == 4 else ("AAAA", term.cidr6)
        for host in hosts:
            if not _valid_domain(host):
                continue  # a macro expanded to no domain name (a bad HELO): no match
            found = self._ask("addresses", host, rdtype)
            if void:
                self._void(budget, found)
            for value in found:
                try:
                    network = ipaddress.ip_network(
                        f"{value}/{length}" if length is not None else value, False
                    )
                except ValueError:
                    continue
                if ip in network:
                    return True
        return False

    def _validated_names(self, ip: Any, budget: _Budget) -> Iterator[str]:
        try:
            names = self.dns.ptr(str(ip))
        except DnsFailure:
            return
        rdtype = "A" if ip.version == 4 else "AAAA"
        for name in names[:MAX_MX_OR_PTR]:
            try:
                if str(ip) in {str(ipaddress.ip_address(a)) for a in self.dns.addresses(name, rdtype)}:
                    yield name
            except (DnsFailure, ValueError):
                continue

    def _validated_name(self, ip: Any, domain: str) -> str:
        """%{p}: a validated name of the IP, the domain's own first (RFC 7208 §7.3)."""
        names = list(self._validated_names(ip, _Budget()))
        domain = domain.lower().rstrip(".")
        for name in names:
            lowered = name.lower().rstrip(".")
            if lowered == domain or lowered.endswith("." + domain):
                return name
        return names[0] if names else "unknown"

    def _expand(self, spec: str, ip: Any, domain: str, sender: str) -> str:
        local, _, sender_domain = sender.rpartition("@")
        if ip.version == 4:
            dotted, version = str(ip), "in-addr"
        else:
            dotted, version = ".".join(ip.exploded.replace(":", "")), "ip6"
        values = {
            "s": sender,
            "l": local or "postmaster",
            "o": sender_domain,
            "d": domain,
            "i": dotted,
            "p": "",
            "v": version,
            "h": self.helo or domain,
        }

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "%%":
                return "%"
            if whole == "%_":
                return " "
            if whole == "%-":
                return "%20"
            if whole == "%":
                raise PermError(f"bad macro in {spec!r}")
            letter = match.group(1).lower()
            if letter == "p" and not values["p"]:
                values["p"] = self._validated_name(ip, domain)
            if letter not in values:
                raise PermError(f"macro %{{{letter}}} is for explanations only")
            parts = re.split("[" + re.escape(match.group(4) or ".") + "]", values[letter])
            if match.group(3):
                parts.reverse()
            if match.group(2):
                count = int(match.group(2))
                if count == 0:
                    raise PermError(f"bad macro in {spec!r}")
                parts = parts[-count:]
            return ".".join(parts)

        expanded = _MACRO.sub(replace, spec)
        while len(expanded) > 253 and "." in expanded:
            expanded = expanded.split(".", 1)[1]
        return expanded


def _client_address(ip: str) -> Any:
    address = ipaddress.ip_address(ip)
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _valid_domain(domain: str) -> bool:
    name = domain[:-1] if domain.endswith(".") else domain
    labels = name.split(".")
    return (
        len(labels) >= 2
        and all(0 < len(label) <= 63 for label in labels)
        and len(name) <= 253
        and name.isascii()
    )


def _show(term: Term) -> str:
    qualifier = "" if term.qualifier == "+" else term.qualifier
    value = f":{term.value}" if term.value else ""
    cidr = (f"/{term.cidr4}" if term.cidr4 is not None else "") + (
        f"//{term.cidr6}" if term.cidr6 is not None else ""
    )
    return f"{qualifier}{term.name}{value}{cidr}"


def count_lookups(evaluator: Evaluator, domain: str, seen: frozenset[str] = frozenset()) -> int:
    """DNS-querying terms reached from ``domain``'s record, following include and redirect
    (what receivers count against the limit of 10, whatever the IP). PermError for a loop."""
    record = evaluator.record_of(domain)
    if record is None:
        return 0
    total = lookup_count(record)
    following = [t.value for t in record.directives if t.name == "include" and t.value]
    redirect = record.modifier("redirect")
    if redirect is not None and redirect.value:
        following.append(redirect.value)
    for target in following:
        if "%" in target:
            continue  # depends on the sender or IP: counted once, its own terms unknown
        visited = seen | {domain.lower()}
        if target.lower() in visited:
            raise PermError(f"{target} includes itself")
        total += count_lookups(evaluator, target, visited)
        if total > 50:
            break
    return total
