"""DNS lookups through dnspython, pointed at ``TIERII_DNS_SERVERS`` when it is set.

Every lookup TierII makes (SPF, DKIM, DMARC, and dkimpy's key lookups, through
:meth:`Lookup.dkimpy_txt`) goes through one :class:`Lookup`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs
from attrs import field, frozen

from tierii_core.errors import ConfigurationError

DNS_PREFIX = "dns"
SERVERS = "TIERII_DNS_SERVERS"


@frozen
class DnsSettings:
    """Where DNS questions go, read from ``TIERII_DNS_<FIELD>``."""

    servers: str = field(
        default="",
        metadata={
            "help": "Name servers to ask, host[:port] (IP addresses; [v6]:port), comma-separated; "
            "empty = the system's resolver (/etc/resolv.conf).",
            "form": "IP[:PORT][,IP[:PORT]...], e.g. 127.0.0.1:5353",
        },
    )
    timeout: float = field(
        default=5.0,
        validator=attrs.validators.gt(0),
        metadata={"help": "Seconds to wait for each DNS answer.", "form": "a number of seconds > 0"},
    )


def parse_servers(value: str) -> list[tuple[str, int]]:
    """``host[:port]`` items as (IP, port); ConfigurationError naming the setting otherwise."""
    servers = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (rest or "53")
        elif item.count(":") == 1:
            host, port = item.split(":")
        try:
            address = str(ipaddress.ip_address(host))
            number = int(port)
            if not 0 < number < 65536:
                raise ValueError(port)
        except ValueError:
            raise ConfigurationError(
                f"{SERVERS}={value!r}: {item!r} is not IP[:PORT]; expected e.g. 127.0.0.1:5353 or [::1]:53"
            ) from None
        servers.append((address, number))
    return servers


class DnsFailure(Exception):
    """The question could not be answered (timeout, SERVFAIL): not the same as "no record"."""


class Lookup:
    """Answers to the DNS questions sender authentication asks (strings, never dnspython types)."""

    def __init__(self, settings: DnsSettings | None = None) -> None:
        import dns.nameserver
        import dns.resolver

        settings = settings or DnsSettings()
        servers = parse_servers(settings.servers)
        if servers:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
        else:
            try:
                resolver = dns.resolver.Resolver()
            except (dns.resolver.NoResolverConfiguration, OSError):
                raise ConfigurationError(
                    f"this machine has no DNS resolver configured (/etc/resolv.conf): set {SERVERS}"
                ) from None
        resolver.lifetime = settings.timeout
        resolver.timeout = settings.timeout
        self._resolver = resolver
        self.queries = 0

    def _answer(self, name: str, rdtype: str) -> Any:
        import dns.exception
        import dns.name
        import dns.resolver

        self.queries += 1
        try:
            return self._resolver.resolve(dns.name.from_text(name), rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsFailure(f"{name} {rdtype}: {exc}") from None
        except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong) as exc:
            raise DnsFailure(f"{name!r}: not a valid domain name ({exc})") from None

    def txt(self, name: str) -> list[str]:
        """Each TXT record at ``name``, its strings joined (a 2048-bit key arrives in several)."""
        answer = self._answer(name, "TXT")
        if answer is None:
            return []
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    def addresses(self, name: str, rdtype: str = "A") -> list[str]:
        answer = self._answer(name, rdtype)
        return [r.address for r in answer] if answer is not None else []

    def mx(self, name: str) -> list[str]:
        answer = self._answer(name, "MX")
        return [r.exchange.to_text(omit_final_dot=True) for r in answer] if answer is not None else []

    def ptr(self, address: str) -> list[str]:
        import dns.reversename

        answer = self._answer(dns.reversename.from_address(address).to_text(), "PTR")
        return [r.target.to_text(omit_final_dot=True) for r in answer] if answer is not None else []

    def dkimpy_txt(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """dkimpy's ``dnsfunc``: the first TXT record at ``name`` as bytes, or None."""
        text = name.decode("ascii") if isinstance(name, bytes) else name
        try:
            records = self.txt(text)
        except DnsFailure:
            return None
        return records[0].encode("utf-8") if records else None


def lookup_from(reader: Any) -> Lookup:
    """A :class:`Lookup` for the settings ``reader`` holds (TIERII_DNS_*)."""
    return Lookup(reader.load(DnsSettings, DNS_PREFIX))
