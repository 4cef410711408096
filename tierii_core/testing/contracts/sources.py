"""The contact source contract: stream Contacts and Rejected records, each with its origin."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import pytest

from tierii_core.components import ContactSource
from tierii_core.contacts import contacts_from
from tierii_core.errors import SourceError
from tierii_core.models import Contact, Rejected
from tierii_core.testing.contracts.base import ComponentContract, _needed

#: ``make_location(records)``: store the records (dicts with the same keys, string values) where
#: the source reads them, and return the location string a user would pass to ``tierii send``
MakeLocation = Callable[[Iterable[Mapping[str, str]]], str]

GOOD = [
    {"email": "ann@example.com", "first_name": "Ann", "city": "Oakland"},
    {"email": "zoe@example.org", "first_name": "Zoë", "city": "São Paulo"},
    {"email": "bob@example.net", "first_name": "Bob & Co", "city": "Ann Arbor"},
]


def _row(i: int) -> dict[str, str]:
    return {"email": f"contact{i}@example.com", "first_name": f"Contact {i}", "city": "Springfield"}


class ContactSourceContract(ComponentContract):
    """Checks for a :class:`~tierii_core.components.ContactSource`.

    Fixtures to provide: ``component_class``, ``plugin``, ``make_location`` (see
    :data:`MakeLocation`), ``missing_location`` (a location the source claims but cannot
    read); optionally ``component_settings``.
    """

    kind = ContactSource
    kind_key = "source"
    #: record counts of the flat-memory check: the larger must not cost ~ten times the memory
    stream_small: ClassVar[int] = 1_000
    stream_large: ClassVar[int] = 10_000

    @pytest.fixture
    def make_location(self) -> MakeLocation:
        return _needed("make_location", "a function storing records and returning their location")

    @pytest.fixture
    def missing_location(self) -> str:
        return _needed("missing_location", "a location your source claims but cannot read")

    @pytest.fixture
    def read(self, component_class: type[ContactSource], component_settings: Any) -> Callable[[str], list]:
        """Every record of a location, as the core reads them: validate(), then iterate."""

        def read(location: str) -> list[Contact | Rejected]:
            source = component_class(location, component_settings)
            source.validate()
            return list(contacts_from(source))

        return read

    # -- claiming ----------------------------------------------------------------------------

    def test_claims_its_locations(
        self, component_class: type[ContactSource], make_location: MakeLocation
    ) -> None:
        location = make_location(GOOD)
        assert component_class.patterns, f"{component_class.__name__}.patterns is empty: it claims nothing"
        assert component_class.claims(location), (
            f"{component_class.__name__}.patterns {component_class.patterns} do not claim {location!r}"
        )

    # -- good records ------------------------------------------------------------------------

    def test_every_good_record_becomes_a_contact(self, make_location: MakeLocation, read: Callable) -> None:
        records = read(make_location(GOOD))
        assert all(isinstance(r, Contact) for r in records), f"expected only Contacts, got {records!r}"
        assert [r.email for r in records] == [g["email"] for g in GOOD], (
            "contacts must come in the source's order"
        )
        for contact, given in zip(records, GOOD, strict=True):
            for column, value in given.items():
                assert contact.fields.get(column) == value, (
                    f"{contact.origin}: field {column!r} is {contact.fields.get(column)!r}, "
                    f"expected {value!r}: "
                    "every column is a template variable, under its own name"
                )

    def test_origins_say_where_each_record_is(self, make_location: MakeLocation, read: Callable) -> None:
        origins = [r.origin for r in read(make_location(GOOD))]
        assert all(isinstance(o, str) and o.strip() for o in origins), f"empty origin among {origins!r}"
        assert len(set(origins)) == len(origins), f"origins must tell records apart: {origins!r}"

    def test_validate_accepts_a_readable_location(
        self, component_class: type[ContactSource], component_settings: Any, make_location: MakeLocation
    ) -> None:
        assert component_class(make_location(GOOD), component_settings).validate() is None

    def test_can_be_read_again(
        self, component_class: type[ContactSource], component_settings: Any, make_location: MakeLocation
    ) -> None:
        """The core reads the opening records to check the template against the rules, then
        reads the whole stream: each iteration starts afresh (repeated-address memory too)."""
        source = component_class(make_location(GOOD), component_settings)
        source.validate()
        first = [(r.email, r.origin) for r in contacts_from(source)]
        assert [(r.email, r.origin) for r in contacts_from(source)] == first
        assert [email for email, _ in first] == [g["email"] for g in GOOD]

    def test_email_column_in_any_case(self, make_location: MakeLocation, read: Callable) -> None:
        rows = [{"EMAIL" if k == "email" else k: v for k, v in g.items()} for g in GOOD]
        records = read(make_location(rows))
        assert [getattr(r, "email", None) for r in records] == [g["email"] for g in GOOD]

    def test_iterating_is_lazy(
        self, component_class: type[ContactSource], component_settings: Any, make_location: MakeLocation
    ) -> None:
        iterator = iter(component_class(make_location(GOOD), component_settings))
        assert isinstance(iterator, Iterator) and not isinstance(iterator, (list, tuple))
        assert type(iterator).__name__ not in {"list_iterator", "tuple_iterator"}, (
            "__iter__ returns an iterator over a list it built: stream the records instead (a generator)"
        )
        first = next(contacts_from(iterator))
        assert isinstance(first, Contact) and first.email == GOOD[0]["email"]

    def test_estimate_is_a_count_or_none(
        self, component_class: type[ContactSource], component_settings: Any, make_location: MakeLocation
    ) -> None:
        estimate = component_class(make_location(GOOD), component_settings).estimate_count()
        assert estimate is None or (isinstance(estimate, int) and estimate >= 0), (
            f"estimate_count() returned {estimate!r}: a number of records >= 0, or None"
        )

    # -- bad records: reported with their origin, and the others go on ------------------------

    def _assert_rejected(self, records: list, index: int, reason_part: str | None = None) -> Rejected:
        assert len(records) == len(GOOD), f"expected {len(GOOD)} records, got {records!r}"
        rejected = records[index]
        assert isinstance(rejected, Rejected), f"record {index} should be Rejected, got {rejected!r}"
        assert rejected.origin.strip() and rejected.reason.strip(), f"{rejected!r}: say where and why"
        assert "\n" not in rejected.reason, f"{rejected.reason!r}: a reason is one line"
        if reason_part is not None:
            assert reason_part in rejected.reason, f"{rejected.reason!r} should say {reason_part!r}"
        others = [r for i, r in enumerate(records) if i != index]
        assert all(isinstance(r, Contact) for r in others), f"the other records must still come: {records!r}"
        return rejected

    def test_invalid_address_is_rejected_and_the_rest_go_on(
        self, make_location: MakeLocation, read: Callable
    ) -> None:
        rows = [GOOD[0], {**GOOD[1], "email": "not an address"}, GOOD[2]]
        self._assert_rejected(read(make_location(rows)), 1)

    def test_empty_address_is_rejected(self, make_location: MakeLocation, read: Callable) -> None:
        rows = [GOOD[0], GOOD[1], {**GOOD[2], "email": ""}]
        self._assert_rejected(read(make_location(rows)), 2)

    def test_repeated_address_is_rejected_whatever_its_case(
        self, make_location: MakeLocation, read: Callable
    ) -> None:
        rows = [GOOD[0], {**GOOD[1], "email": GOOD[0]["email"].upper()}, GOOD[2]]
        rejected = self._assert_rejected(read(make_location(rows)), 1, "repeated address")
        assert rejected.email is not None and rejected.email.lower() == GOOD[0]["email"]

    # -- nothing readable: SourceError (exit 2) ----------------------------------------------

    def test_missing_location_is_a_source_error_before_anything_is_read(
        self, component_class: type[ContactSource], component_settings: Any, missing_location: str
    ) -> None:
        with pytest.raises(SourceError) as caught:
            component_class(missing_location, component_settings).validate()
        assert str(caught.value).strip()

    def test_missing_location_is_a_source_error(self, missing_location: str, read: Callable) -> None:
        with pytest.raises(SourceError) as caught:
            read(missing_location)
        assert str(caught.value).strip()

    def test_no_email_column_sends_nothing(self, make_location: MakeLocation, read: Callable) -> None:
        rows = [{k: v for k, v in g.items() if k != "email"} for g in GOOD]
        try:
            records = read(make_location(rows))
        except SourceError as exc:
            assert "email" in str(exc).lower(), f"{exc}: say that the email column is missing"
            return
        assert records and all(isinstance(r, Rejected) for r in records), (
            f"without an email column nothing may become a contact: {records!r}"
        )

    # -- streaming ---------------------------------------------------------------------------

    def test_memory_stays_flat_while_streaming(
        self, component_class: type[ContactSource], component_settings: Any, make_location: MakeLocation
    ) -> None:
        small = make_location(_row(i) for i in range(self.stream_small))
        large = make_location(_row(i) for i in range(self.stream_large))

        def peak(location: str) -> tuple[int, int]:
            tracemalloc.start()
            try:
                count = sum(1 for _ in component_class(location, component_settings))
                return count, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        peak(small)  # warm up: imports, caches and compiled statements are not per-record costs
        small_count, small_peak = peak(small)
        large_count, large_peak = peak(large)
        assert (small_count, large_count) == (self.stream_small, self.stream_large)
        ratio = self.stream_large / self.stream_small
        print(f"peak traced memory: {small_peak} B for {small_count}, {large_peak} B for {large_count}")
        assert large_peak < small_peak * ratio / 3 + 256 * 1024, (
            f"peak traced memory {small_peak / 1e6:.1f} MB for {small_count} records but "
            f"{large_peak / 1e6:.1f} MB for {large_count}: the source holds records instead of streaming them"
        )
