"""The SPF evaluator against RFC 7208's own test suite (the openspf.org suite, release 2014.04,
as shipped in pyspf 2.0.14's sdist: tests/authentication/data/rfc7208-tests.yml, with its
licence beside it). Every case runs; explanations (``exp=``) are not evaluated by TierII, so
only each case's result is compared."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tierii_core.authcheck.resolver import DnsFailure
from tierii_core.authcheck.spf import Evaluator

SUITE = Path(__file__).with_name("data") / "rfc7208-tests.yml"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return str(value)


class ZoneSource:
    """The suite's ``zonedata``: SPF records also answer TXT questions unless TXT is given."""

    def __init__(self, zonedata: dict[str, list[Any]]) -> None:
        self.records: dict[str, list[tuple[str, Any]]] = {}
        self.timeouts: set[str] = set()
        for name, entries in zonedata.items():
            key = name.lower().rstrip(".")
            for entry in entries:
                if entry == "TIMEOUT":
                    self.timeouts.add(key)
                    continue
                [(rdtype, value)] = entry.items()
                self.records.setdefault(key, []).append((rdtype, value))

    def _get(self, name: str, rdtype: str, depth: int = 0) -> list[Any]:
        key = name.lower().rstrip(".")
        entries = self.records.get(key, [])
        found = [v for t, v in entries if t == rdtype and v != "NONE"]
        if not found:
            cname = [v for t, v in entries if t == "CNAME"]
            if cname and depth < 8:
                return self._get(cname[0], rdtype, depth + 1)
        if not found and key in self.timeouts:
            raise DnsFailure(f"{name} {rdtype}: timeout")
        return found

    def txt(self, name: str) -> list[str]:
        key = name.lower().rstrip(".")
        if ("TXT", "NONE") in self.records.get(key, []):
            self._get(name, "TXT")  # a timeout when the zone says so
            return []
        txt = self._get(name, "TXT")
        if txt:
            return [_text(v) for v in txt]
        return [_text(v) for v in self._get(name, "SPF") if not (isinstance(v, list) and not v)]

    def addresses(self, name: str, rdtype: str = "A") -> list[str]:
        return [str(v) for v in self._get(name, rdtype)]

    def mx(self, name: str) -> list[str]:
        return [str(v[1]) for v in self._get(name, "MX")]

    def ptr(self, address: str) -> list[str]:
        reverse = ipaddress.ip_address(address).reverse_pointer
        return [str(v) for v in self._get(reverse, "PTR")]


def cases() -> Iterator[tuple[str, dict[str, Any], ZoneSource]]:
    """(section: case name, the case, the section's zones) for every case in the vendored file."""
    with SUITE.open(encoding="utf-8") as handle:
        for section in yaml.safe_load_all(handle):
            zones = ZoneSource(section["zonedata"])
            for name, case in section["tests"].items():
                yield f"{section['description']}: {name}", case, zones


CASES = list(cases())


def test_the_whole_suite_is_there() -> None:
    assert len(CASES) >= 200


@pytest.mark.parametrize(("name", "case", "zones"), CASES, ids=[name for name, _, _ in CASES])
def test_rfc7208_case(name: str, case: dict, zones: object) -> None:
    mailfrom = case["mailfrom"] or f"postmaster@{case['helo']}"
    domain = mailfrom.rpartition("@")[2]
    expected = case["result"] if isinstance(case["result"], list) else [case["result"]]
    result = Evaluator(zones, helo=case.get("helo", "")).check_host(case["host"], domain, mailfrom)
    assert result.result in expected, f"{case.get('description', '')} ({result.reason})"
