"""Rule pack files: TOML, read, validated and resolved (``extends``) into a :class:`Pack`.

The format is documented in the README. Every problem is a :class:`PluginError` (exit 2) that
names the file and the key at fault, e.g. ``packs/my-ca.toml: claims 'candy': pattern does not
compile: missing ), unterminated subpattern at position 0``.
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from attrs import field, frozen

from tierii_cannabis.model import (
    Claim,
    LazyPattern,
    ManualCheck,
    Pack,
    RequiredText,
    claim_pattern,
    for_claims,
    text_pattern,
    words_pattern,
)
from tierii_cannabis.states import USPS_CODES
from tierii_cannabis.text import squash
from tierii_core import user_cache
from tierii_core.errors import PluginError

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
ID = re.compile(r"[a-z0-9][a-z0-9-]*")

SCALARS: Mapping[str, type] = {
    "name": str,
    "title": str,
    "extends": str,
    "min_age": int,
    "medical_min_age": int,
    "consent_required": bool,
    "license_required": bool,
}
LISTS = ("states", "drop_claims", "drop_required", "drop_manual")
TABLES = ("sources",)
ARRAYS = ("claims", "required", "manual")
PACK_KEYS = frozenset(SCALARS) | frozenset(LISTS) | frozenset(TABLES) | frozenset(ARRAYS)
#: keys every entry may have: whether its citation was checked against a public copy of the
#: law, and when it was not, what is uncertain
REVIEW_KEYS = frozenset({"verified", "uncertain"})
CLAIM_KEYS = frozenset({"id", "pattern", "reason", "source", "examples", "counterexamples"}) | REVIEW_KEYS
REQUIRED_KEYS = frozenset({"id", "text", "pattern", "source", "when", "one_of"}) | REVIEW_KEYS
MANUAL_KEYS = frozenset({"id", "text", "source"}) | REVIEW_KEYS
LIST_ENTRY_KEYS = frozenset({"examples", "counterexamples", "when", "one_of"})
#: which source each check cites; a check that is on needs its source
SOURCE_KEYS = frozenset({"age", "medical_age", "state", "consent", "license"})


class Traversable(Protocol):
    """A pack file: a :class:`pathlib.Path`, or a file inside an installed package."""

    @property
    def name(self) -> str: ...

    def read_bytes(self) -> bytes: ...


@frozen
class PackFile:
    """One file's own data, checked for shape; :func:`resolve` merges it with what it extends."""

    name: str
    origin: str
    data: Mapping[str, Any] = field(hash=False)


# -- reading one file ---------------------------------------------------------------------------


def read_pack_file(path: Traversable, origin: str | None = None) -> PackFile:
    """Parse one pack file and check the shape of its own data."""
    where = origin or str(path)
    return pack_file(_parsed(path, where), path.name, where)


def _parsed(path: Traversable, where: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):  # imported here: a cached shipped pack needs no TOML parser
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PluginError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"{where}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise PluginError(f"{where}: cannot be read: {exc.strerror or exc}") from None
    return data


def pack_file(data: dict[str, Any], file_name: str, where: str) -> PackFile:
    """A pack file's parsed data, its shape checked."""
    _check_shape(data, where)
    stem = file_name.rsplit(".", 1)[0]
    name = data.get("name", stem)
    if not NAME.fullmatch(name):
        raise PluginError(
            f"{where}: name {name!r} is not a pack name (lowercase letters and digits in words joined "
            "by '-', e.g. cannabis-ca)"
        )
    return PackFile(name, where, data)


def _check_shape(data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(data) - PACK_KEYS)
    if unknown:
        raise PluginError(
            f"{where}: unknown key {', '.join(map(repr, unknown))} (known: {', '.join(sorted(PACK_KEYS))})"
        )
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise PluginError(f"{where}: 'title' is missing: say in a few words what the pack is for")
    for key, kind in SCALARS.items():
        if key in data:
            _expect(data[key], kind, f"{where}: {key}")
    for key in ("min_age", "medical_min_age"):
        if key in data and not 0 < data[key] <= 120:
            raise PluginError(f"{where}: {key} = {data[key]} is not an age (1 to 120)")
    for key in LISTS:
        if key in data:
            _expect_strings(data[key], f"{where}: {key}")
    if "states" in data:
        bad = [s for s in data["states"] if s.upper() not in USPS_CODES]
        if bad:
            raise PluginError(
                f"{where}: states: {', '.join(map(repr, bad))} is not a USPS state code (CA, CO, WA...)"
            )
        if not data["states"]:
            raise PluginError(f"{where}: states is empty: list the states whose residents may get this mail")
    sources = data.get("sources", {})
    _expect(sources, dict, f"{where}: sources")
    for key, value in sources.items():
        if key not in SOURCE_KEYS:
            raise PluginError(
                f"{where}: sources: unknown key {key!r} (known: {', '.join(sorted(SOURCE_KEYS))})"
            )
        _expect(value, str, f"{where}: sources.{key}")
    for array, keys in (("claims", CLAIM_KEYS), ("required", REQUIRED_KEYS), ("manual", MANUAL_KEYS)):
        entries = data.get(array, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise PluginError(f"{where}: {array} must be an array of tables ([[{array}]] sections)")
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            label = f"{where}: {array}[{index}]"
            if not isinstance(entry.get("id"), str) or not ID.fullmatch(entry["id"]):
                raise PluginError(f"{label}: every entry needs an id of lowercase letters, digits and '-'")
            label = f"{where}: {array} {entry['id']!r}"
            if entry["id"] in seen:
                raise PluginError(f"{label}: the id is used twice in this file")
            seen.add(entry["id"])
            unknown = sorted(set(entry) - keys)
            if unknown:
                raise PluginError(
                    f"{label}: unknown key {', '.join(map(repr, unknown))} (known: {', '.join(sorted(keys))})"
                )
            for key, value in entry.items():
                if key in LIST_ENTRY_KEYS:
                    _expect_strings(value, f"{label}: {key}")
                elif key == "verified":
                    _expect(value, bool, f"{label}: {key}")
                else:
                    _expect(value, str, f"{label}: {key}")
            if entry.get("verified") is False and not str(entry.get("uncertain", "")).strip():
                raise PluginError(
                    f"{label}: verified = false needs 'uncertain': say what could not be checked"
                )


def _expect(value: Any, kind: type, label: str) -> None:
    # bool is an int in Python, and never the other way round: an age of `true` is refused
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = {str: "text", int: "a whole number", bool: "true or false", dict: "a table"}
        raise PluginError(f"{label} must be {names.get(kind, kind.__name__)}, not {value!r}")


def _expect_strings(value: Any, label: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PluginError(f"{label} must be a list of texts, not {value!r}")


# -- several files: names, inheritance -------------------------------------------------------------


SHIPPED = Path(__file__).parent / "packs"


def shipped_files() -> list[PackFile]:
    """The packs in ``tierii_cannabis/packs``.

    Parsing their TOML costs ~15 ms on every command that loads the plugins (``tierii send``
    included): the parsed data is kept in the user's cache, keyed by each file's size and
    modification time (see :mod:`tierii_core.user_cache`), and checked as if just parsed."""
    entries = sorted(SHIPPED.glob("*.toml"))
    stamp = [[e.name, e.stat().st_mtime_ns, e.stat().st_size] for e in entries]
    cache_name = f"cannabis-packs-{zlib.crc32(str(SHIPPED).encode()):08x}.json"
    parsed = user_cache.load(cache_name, stamp)
    if not isinstance(parsed, dict) or sorted(parsed) != [e.name for e in entries]:
        parsed = {e.name: _parsed(e, _shipped_origin(e.name)) for e in entries}
        user_cache.store(cache_name, stamp, parsed)
    return [pack_file(parsed[e.name], e.name, _shipped_origin(e.name)) for e in entries]


def _shipped_origin(file_name: str) -> str:
    return f"tierii_cannabis/packs/{file_name}"


def directory_files(directory: Path) -> list[PackFile]:
    """The ``*.toml`` pack files of ``directory``, in name order."""
    return [read_pack_file(path) for path in sorted(directory.glob("*.toml"))]


def index(files: Iterable[PackFile], known: Mapping[str, PackFile] | None = None) -> dict[str, PackFile]:
    """Files by pack name, with ``known`` (the shipped packs) first; refuses a name used twice."""
    by_name = dict(known or {})
    for pack_file in files:
        other = by_name.get(pack_file.name)
        if other is not None:
            hint = (
                " (a shipped pack: give yours another name and extends = its name)"
                if known and pack_file.name in known
                else ""
            )
            raise PluginError(
                f"{pack_file.origin}: pack name {pack_file.name!r} is already used by {other.origin}{hint}"
            )
        by_name[pack_file.name] = pack_file
    return by_name


def resolve(name: str, files: Mapping[str, PackFile], *, checked: bool = True) -> Pack:
    """The pack ``name`` with everything it extends merged in, validated and compiled.

    ``checked=False`` (the shipped packs, which the plugin's tests resolve checked): patterns
    compile on first use and examples are not matched, so that registering the plugin costs
    no ~100 ms of compiling for packs the run does not name."""
    merged = _merged(name, files, ())
    return _build(files[name], merged, checked=checked)


def _merged(name: str, files: Mapping[str, PackFile], chain: tuple[str, ...]) -> dict[str, Any]:
    pack_file = files[name]
    data = pack_file.data
    merged: dict[str, Any] = {"sources": {}, "claims": {}, "required": {}, "manual": {}}
    parent = data.get("extends")
    if parent is not None:
        if parent in chain or parent == name:
            loop = " -> ".join((*chain, name, parent))
            raise PluginError(f"{pack_file.origin}: extends makes a loop: {loop}")
        if parent not in files:
            known = ", ".join(sorted(files))
            raise PluginError(
                f"{pack_file.origin}: extends {parent!r}, but there is no such pack (known: {known})"
            )
        merged = _merged(parent, files, (*chain, name))
    for key in SCALARS:
        if key in data and key not in ("name", "extends"):
            merged[key] = data[key]
    if "states" in data:
        merged["states"] = [s.upper() for s in data["states"]]
    merged["sources"] = {**merged["sources"], **data.get("sources", {})}
    for array, drop in (("claims", "drop_claims"), ("required", "drop_required"), ("manual", "drop_manual")):
        entries = dict(merged[array])
        for dropped in data.get(drop, []):
            if dropped not in entries:
                raise PluginError(
                    f"{pack_file.origin}: {drop}: {dropped!r} is not an id of {parent or 'this pack'} "
                    f"(ids: {', '.join(entries) or 'none'})"
                )
            del entries[dropped]
        for entry in data.get(array, []):
            entries[entry["id"]] = {**entries.get(entry["id"], {}), **entry}
        merged[array] = entries
    return merged


def _build(pack_file: PackFile, merged: Mapping[str, Any], *, checked: bool = True) -> Pack:
    where = pack_file.origin
    for key in ("states", "min_age", "consent_required", "license_required"):
        if key not in merged:
            raise PluginError(f"{where}: {key} is missing (not given here nor in a pack it extends)")
    min_age = merged["min_age"]
    medical_min_age = merged.get("medical_min_age", min_age)
    if medical_min_age > min_age:
        raise PluginError(f"{where}: medical_min_age {medical_min_age} is above min_age {min_age}")
    sources = merged["sources"]
    needed = {"age", "state"}
    needed |= {"medical_age"} if medical_min_age < min_age else set()
    needed |= {"consent"} if merged["consent_required"] else set()
    needed |= {"license"} if merged["license_required"] else set()
    missing = sorted(needed - set(sources))
    if missing:
        raise PluginError(
            f"{where}: [sources] needs {', '.join(missing)}: every check cites its legal source"
        )
    return Pack(
        name=pack_file.name,
        title=squash(merged["title"]),
        origin=where,
        states=frozenset(merged["states"]),
        min_age=min_age,
        medical_min_age=medical_min_age,
        consent_required=merged["consent_required"],
        license_required=merged["license_required"],
        sources=dict(sources),
        claims=tuple(_claim(where, entry, checked) for entry in merged["claims"].values()),
        required=tuple(_required(where, entry, checked) for entry in merged["required"].values()),
        manual=tuple(_manual(where, entry) for entry in merged["manual"].values()),
        extends=pack_file.data.get("extends"),
    )


def _complete(where: str, label: str, entry: Mapping[str, Any], keys: Iterable[str]) -> None:
    missing = [k for k in keys if not str(entry.get(k, "")).strip()]
    if missing:
        raise PluginError(
            f"{where}: {label}: {', '.join(missing)} missing (not given here nor in a pack it extends)"
        )


def _compile(where: str, label: str, pattern: str, compile_: Any) -> re.Pattern[str]:
    try:
        return compile_(pattern)
    except re.error as exc:
        raise PluginError(f"{where}: {label}: pattern does not compile: {exc}") from None


def _ignoring_case(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _lazy(where: str, label: str, pattern: str, compile_: Any) -> Any:
    return LazyPattern(pattern, compile_)


def _claim(where: str, entry: Mapping[str, Any], checked: bool = True) -> Claim:
    label = f"claims {entry['id']!r}"
    _complete(where, label, entry, ("pattern", "reason", "source"))
    if checked:
        _compile(where, label, entry["pattern"], re.compile)  # positions in errors are the user's
    regex = (_compile if checked else _lazy)(where, label, entry["pattern"], claim_pattern)
    claim = Claim(
        entry["id"],
        entry["pattern"],
        squash(entry["reason"]),
        squash(entry["source"]),
        regex,
        tuple(entry.get("examples", ())),
        tuple(entry.get("counterexamples", ())),
    )
    for example in claim.examples if checked else ():
        if claim.search(for_claims(example)) is None:
            raise PluginError(f"{where}: {label}: the pattern does not match its example {example!r}")
    for counter in claim.counterexamples if checked else ():
        found = claim.search(for_claims(counter))
        if found is not None:
            raise PluginError(
                f"{where}: {label}: the pattern matches {found[0]!r} in its counterexample {counter!r}"
            )
    return claim


def _required(where: str, entry: Mapping[str, Any], checked: bool = True) -> RequiredText:
    """A required text: one text, or ``one_of`` several; always, or ``when`` words appear."""
    label = f"required {entry['id']!r}"
    choices = [squash(t) for t in entry.get("one_of", [])]
    if "one_of" in entry and len(choices) < 2:
        raise PluginError(f"{where}: {label}: one_of needs two texts or more (else use text)")
    if choices and entry.get("pattern"):
        raise PluginError(
            f"{where}: {label}: give pattern or one_of, not both (each text is its own pattern)"
        )
    if not choices:
        _complete(where, label, entry, ("text", "source"))
        choices = [squash(entry["text"])]
    else:
        _complete(where, label, entry, ("source",))
    pattern = entry.get("pattern") or "|".join(f"(?:{text_pattern(text)})" for text in choices)
    compile_ = _compile if checked else _lazy
    regex = compile_(where, label, pattern, _ignoring_case)
    when = None
    if "when" in entry:
        if not entry["when"]:
            raise PluginError(f"{where}: {label}: when is empty: list the words that make the text required")
        when = compile_(where, f"{label}: when", words_pattern(entry["when"]), _ignoring_case)
    shown = choices[0] if len(choices) == 1 else " | ".join(choices)
    required = RequiredText(
        entry["id"],
        squash(entry.get("text") or shown),
        squash(entry["source"]),
        pattern,
        regex,
        choices=tuple(choices),
        when=when,
        when_words=tuple(entry.get("when", ())),
    )
    for text in choices if checked else ():
        if not required.found_in(text):
            raise PluginError(
                f"{where}: {label}: the pattern does not match the text it stands for ({text!r})"
            )
    return required


def _manual(where: str, entry: Mapping[str, Any]) -> ManualCheck:
    _complete(where, f"manual {entry['id']!r}", entry, ("text", "source"))
    return ManualCheck(entry["id"], squash(entry["text"]), squash(entry["source"]))
