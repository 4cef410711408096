"""Stores: each licensed location of a chain, with its own licence, state, sender and address.

A stores file (``TIERII_CANNABIS_STORES_FILE``) is CSV or TOML; the contact column named by
``TIERII_CANNABIS_STORE_COLUMN`` (``store``) picks each recipient's store. Without a file, the
run is one store: ``TIERII_CANNABIS_LICENSE_NUMBER`` and ``TIERII_CANNABIS_LICENSE_TYPE``,
with the core's sender and postal address. Every problem in the file is a
:class:`ConfigurationError` naming the file and the line (CSV) or table (TOML).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from tierii_cannabis.fields import lookup, text_of
from tierii_cannabis.states import USPS_CODES
from tierii_cannabis.text import squash
from tierii_core.compose import parse_address
from tierii_core.errors import ConfigurationError, ContactError
from tierii_core.models import Address, Contact

#: licence types, and whether a licensee of the type may serve medical patients under the
#: adult-use age (the packs' ``medical_min_age``): only a medical licence may
LICENSE_TYPES: Mapping[str, bool] = {
    "retail": False,  # adult-use retailer (storefront or delivery)
    "microbusiness": False,  # California's combined licence, adult-use
    "delivery": False,  # adult-use delivery-only retailer
    "medical": True,  # medical-only dispensary or medical retail licence
}
COLUMNS = ("id", "license_number", "license_type", "state", "from", "address")
OPTIONAL = frozenset({"from", "address", "license_type"})


@frozen
class Store:
    """One licensed location. ``sender`` and ``address`` are None in single-store mode: the
    template's From and ``TIERII_SENDER_ADDRESS`` apply there."""

    id: str
    license_number: str
    license_type: str = "retail"
    state: str = ""
    sender: Address | None = None
    address: str = ""
    origin: str = ""

    @property
    def serves_medical(self) -> bool:
        return LICENSE_TYPES[self.license_type]

    def describe(self) -> str:
        return (
            f"store {self.id!r} ({self.license_type} licence {self.license_number})"
            if self.id
            else (f"the sender ({self.license_type} licence)")
        )


@frozen
class StoreBook:
    """Finds each contact's store: in the stores file by the store column, or the single store."""

    column: str
    stores: Mapping[str, Store]
    origin: str = ""  # the stores file, for messages; "" in single-store mode
    single: Store | None = None

    @property
    def chain(self) -> bool:
        return self.single is None

    #: the last contact asked about and its store: the rules and the variables all ask about
    #: the same contact in turn (about six times a recipient), so one lookup serves them all
    _last: list = field(factory=lambda: [(None, None)], eq=False, repr=False)

    def store_of(self, contact: Contact) -> Store:
        """The contact's store; :class:`ContactError` naming the contact's line when unknown."""
        if self.single is not None:
            return self.single
        last_contact, last_store = self._last[0]  # one tuple, replaced whole: safe across threads
        if last_contact is contact:
            return last_store
        wanted = text_of(lookup(contact.fields, self.column))
        store = self.stores.get(wanted.casefold())
        if store is not None:
            self._last[0] = (contact, store)
            return store
        where = f"{contact.origin}: " if contact.origin else ""
        problem = f"no {self.column!r} value" if not wanted else f"store {wanted!r} is not in {self.origin}"
        known = ", ".join(sorted(s.id for s in self.stores.values()))
        raise ContactError(f"{where}unknown store: {problem} (known: {known})")


def single_store(license_number: str, license_type: str, setting: str) -> StoreBook:
    _check_type(license_type, setting)
    return StoreBook("", {}, single=Store("", squash(license_number), license_type.strip().lower()))


def load_stores(path: Path, column: str) -> StoreBook:
    """Read a CSV or TOML stores file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"TIERII_CANNABIS_STORES_FILE={str(path)!r}: cannot be read: {exc.strerror or exc}"
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = _toml_rows(text, path) if path.suffix.lower() == ".toml" else _csv_rows(text, path)
    stores: dict[str, Store] = {}
    for where, row in rows:
        store = _store(row, where)
        key = store.id.casefold()
        if key in stores:
            raise ConfigurationError(
                f"{where}: store id {store.id!r} is already used at {stores[key].origin}"
            )
        stores[key] = store
    if not stores:
        raise ConfigurationError(f"{path}: no store: one row (CSV) or [[stores]] table (TOML) per store")
    return StoreBook(column, stores, str(path))


def _csv_rows(text: str, path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL]
    if missing:
        raise ConfigurationError(
            f"{path}:1: the header has no {', '.join(missing)} column (columns: {', '.join(COLUMNS)})"
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ConfigurationError(
            f"{path}:1: unknown column {', '.join(map(repr, unknown))} (known: {', '.join(COLUMNS)})"
        )
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigurationError(f"{where}: {len(row)} fields where the header has {len(header)}")
        yield where, {name: cell for name, cell in zip(header, row, strict=True)}


def _toml_rows(text: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if sys.version_info >= (3, 11):  # imported here: a CSV stores file needs no TOML parser
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"stores"})
    tables = data.get("stores")
    if unknown or not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigurationError(
            f"{path}: expected [[stores]] tables only (found {', '.join(unknown or ['no [[stores]]'])})"
        )
    for index, table in enumerate(tables):
        where = f"{path}: [[stores]] #{index + 1}" + (
            f" ({table['id']!r})" if isinstance(table.get("id"), str) else ""
        )
        extra = sorted(set(table) - set(COLUMNS))
        if extra:
            raise ConfigurationError(
                f"{where}: unknown key {', '.join(map(repr, extra))} (known: {', '.join(COLUMNS)})"
            )
        for key, value in table.items():
            if not isinstance(value, str):
                raise ConfigurationError(f"{where}: {key} must be text, not {value!r}")
        yield where, table


def _store(row: Mapping[str, str], where: str) -> Store:
    values = {key: squash(row.get(key, "") or "") for key in COLUMNS}
    for key in COLUMNS:
        if key not in OPTIONAL and not values[key]:
            raise ConfigurationError(f"{where}: {key} is empty")
    if not values["from"] or not values["address"]:
        missing = "from" if not values["from"] else "address"
        raise ConfigurationError(
            f"{where}: {missing} is empty: each store sends as itself and shows its own postal address"
        )
    license_type = (values["license_type"] or "retail").lower()
    _check_type(license_type, where)
    state = values["state"].upper()
    if state not in USPS_CODES:
        raise ConfigurationError(
            f"{where}: state {values['state']!r} is not a USPS state code (CA, CO, WA...)"
        )
    return Store(
        values["id"],
        values["license_number"],
        license_type,
        state,
        _sender(values["from"], where),
        values["address"],
        where,
    )


def _sender(text: str, where: str) -> Address:
    try:
        return parse_address(text, "from")
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}; expected 'Store Name <shop@example.com>'") from None


def _check_type(license_type: str, where: str) -> None:
    if license_type.strip().lower() not in LICENSE_TYPES:
        raise ConfigurationError(
            f"{where}: licence type {license_type!r} is not one of {', '.join(LICENSE_TYPES)}"
        )
