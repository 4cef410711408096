"""Stores files, CSV and TOML: read, checked, and every problem named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_cannabis.stores import load_stores, single_store
from tierii_core.errors import ConfigurationError, ContactError
from tierii_core.models import Address, Contact

HEADER = "id,license_number,license_type,state,from,address"
GOOD = 'sac,C10-1,retail,CA,Green Leaf <sac@greenleaf.example>,"1 Main St, Sacramento, CA"'


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "stores.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_csv_row_becomes_a_store(tmp_path: Path) -> None:
    book = load_stores(
        csv_file(tmp_path, GOOD, "", "den,402R-1,MEDICAL,co,den@greenleaf.example,5 Colfax"), "store"
    )
    sac = book.store_of(Contact("a@example.com", {"store": "sac"}))
    assert sac.sender == Address("sac@greenleaf.example", "Green Leaf")
    assert (sac.license_number, sac.license_type, sac.state) == ("C10-1", "retail", "CA")
    assert sac.address == "1 Main St, Sacramento, CA" and sac.origin.endswith("stores.csv:2")
    den = book.store_of(Contact("b@example.com", {"Store": "DEN"}))  # column and id in any case
    assert den.license_type == "medical" and den.state == "CO" and den.serves_medical


def test_the_same_stores_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "stores.toml"
    path.write_text(
        '[[stores]]\nid = "sac"\nlicense_number = "C10-1"\nstate = "CA"\n'
        'from = "Green Leaf <sac@greenleaf.example>"\naddress = "1 Main St"\n',
        encoding="utf-8",
    )
    store = load_stores(path, "shop").store_of(Contact("a@example.com", {"shop": "sac"}))
    assert store.license_type == "retail" and store.sender.email == "sac@greenleaf.example"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            [GOOD.replace("retail", "dispensary")],
            "stores.csv:2: licence type 'dispensary' is not one of retail, ",
        ),
        ([GOOD.replace(",CA,", ",Calif,")], "stores.csv:2: state 'Calif' is not a USPS state code"),
        (
            [GOOD.replace("Green Leaf <sac@greenleaf.example>", "nobody")],
            "stores.csv:2: from 'nobody' is not",
        ),
        ([GOOD.replace("C10-1", "")], "stores.csv:2: license_number is empty"),
        ([GOOD.replace('"1 Main St, Sacramento, CA"', '""')], "stores.csv:2: address is empty"),
        ([GOOD, GOOD.replace("sac,", "SAC,", 1)], "stores.csv:3: store id 'SAC' is already used at"),
        (["sac,C10-1"], "stores.csv:2: 2 fields where the header has 6"),
        ([], "stores.csv: no store"),
    ],
)
def test_a_bad_stores_file_names_the_line(tmp_path: Path, rows: list[str], problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_stores(csv_file(tmp_path, *rows), "store")
    assert problem in str(caught.value)


def test_a_header_without_a_needed_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"stores\.csv:1: the header has no state column"):
        load_stores(csv_file(tmp_path, header="id,license_number,from,address"), "store")
    with pytest.raises(ConfigurationError, match=r"stores\.csv:1: unknown column 'phone'"):
        load_stores(csv_file(tmp_path, header=HEADER + ",phone"), "store")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[stores]]\nid = 1\n", "stores.toml: [[stores]] #1: id must be text, not 1"),
        ('[[stores]]\nid = "a"\nphone = "1"\n', "[[stores]] #1 ('a'): unknown key 'phone'"),
        ('[store]\nid = "a"\n', "expected [[stores]] tables only (found store)"),
        ("[[stores]\n", "stores.toml: not valid TOML"),
    ],
)
def test_a_bad_toml_stores_file_names_the_table(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "stores.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_stores(path, "store")
    assert problem in str(caught.value)


def test_an_unknown_store_fails_the_contact_with_its_line(tmp_path: Path) -> None:
    book = load_stores(csv_file(tmp_path, GOOD), "store")
    with pytest.raises(ContactError) as caught:
        book.store_of(Contact("a@example.com", {"store": "reno"}, "contacts.csv:7"))
    assert str(caught.value).startswith("contacts.csv:7: unknown store: store 'reno' is not in ")
    assert str(caught.value).endswith("(known: sac)")
    with pytest.raises(ContactError, match=r"contacts\.csv:8: unknown store: no 'store' value"):
        book.store_of(Contact("b@example.com", {}, "contacts.csv:8"))


def test_a_single_store_needs_no_file() -> None:
    book = single_store("C10-1", "Medical", "TIERII_CANNABIS_LICENSE_TYPE")
    store = book.store_of(Contact("a@example.com", {"store": "anything"}))
    assert store.license_number == "C10-1" and store.serves_medical and store.sender is None
    with pytest.raises(
        ConfigurationError, match="TIERII_CANNABIS_LICENSE_TYPE: licence type 'shop' is not one of"
    ):
        single_store("C10-1", "shop", "TIERII_CANNABIS_LICENSE_TYPE")


@given(st.text(max_size=40))
def test_any_store_value_finds_its_store_or_fails_with_a_one_line_reason(value: str) -> None:
    book = BOOK
    try:
        store = book.store_of(Contact("a@example.com", {"store": value}, "c.csv:2"))
    except ContactError as exc:
        assert str(exc).startswith("c.csv:2: unknown store: ") and "\n" not in str(exc).replace(value, "")
        assert value.strip().casefold() not in ("sac", "den")
    else:
        assert store.id.casefold() == value.strip().casefold()


def _book() -> object:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        return load_stores(
            csv_file(Path(directory), GOOD, "den,402R-1,medical,CO,d@x.example,5 Colfax"), "store"
        )


BOOK = _book()
