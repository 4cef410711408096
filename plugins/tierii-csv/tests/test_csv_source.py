"""tierii-csv: streaming, encodings, delimiters, validation, repeated addresses, line numbers."""

from __future__ import annotations

import csv
import io
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.contacts import INVALID, REPEATED, UNREADABLE, contacts_from
from tierii_core.errors import SourceError
from tierii_core.models import Contact, Rejected
from tierii_csv.source import CsvSource, sniff_delimiter


def read(path: Path) -> list[Contact | Rejected]:
    """The records as the core uses them: the core checks and de-duplicates the addresses."""
    source = CsvSource(str(path), None)
    source.validate()
    return list(contacts_from(source))


def write(tmp_path: Path, data: str | bytes, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_claims_csv_and_tsv_files() -> None:
    assert CsvSource.claims("People.CSV") and CsvSource.claims("x.tsv")
    assert not CsvSource.claims("x.json")


def test_rows_become_contacts_with_every_column_and_an_origin(tmp_path: Path) -> None:
    items = read(write(tmp_path, "Email,First Name,city\nAna@Example.com,Ana,LA\n"))
    assert items == [
        Contact(
            "Ana@example.com",
            {"Email": "Ana@example.com", "First Name": "Ana", "city": "LA"},
            f"{tmp_path}/c.csv:2",
        )
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows([["email", "name", "note"], ["a@example.com", "A", "x, y; z | w"]])
    (contact,) = read(write(tmp_path, buffer.getvalue()))
    assert contact.fields["note"] == "x, y; z | w"


def test_bom_is_ignored_and_header_names_kept(tmp_path: Path) -> None:
    (contact,) = read(write(tmp_path, b"\xef\xbb\xbfemail,name\nz@example.com,Zo\xc3\xab\n"))
    assert contact.fields == {"email": "z@example.com", "name": "Zoë"}


def test_undecodable_bytes_reject_that_row_with_its_line(tmp_path: Path) -> None:
    items = read(write(tmp_path, b"email,name\na@example.com,A\nb@example.com,Caf\xe9\nc@example.com,C\n"))
    assert [type(i).__name__ for i in items] == ["Contact", "Rejected", "Contact"]
    assert items[1].origin.endswith("c.csv:3")
    assert items[1].reason == "not valid UTF-8 (byte 0xe9 at column 18)"


def test_undecodable_header_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"c.csv:1: header row is not valid UTF-8"):
        read(write(tmp_path, b"em\xe9il\na@example.com\n"))


def test_no_email_column_names_the_file_and_the_columns(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=r"c.csv:1: no 'email' column in the header \(columns: 'name', 'mail'\)"
    ):
        read(write(tmp_path, "name,mail\nA,a@example.com\n"))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="empty file"):
        read(write(tmp_path, ""))
    with pytest.raises(SourceError, match="no such file"):
        read(tmp_path / "absent.csv")


def test_invalid_and_repeated_addresses_are_rejected_and_the_run_goes_on(tmp_path: Path) -> None:
    text = "email\na@example.com\nnot-an-address\n\nA@EXAMPLE.com\n ,\nb@example.com\nuser@bücher.example\n"
    items = read(write(tmp_path, text))
    kinds = [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items]
    # line 4 is blank and line 6 has only blank cells: both ignored
    assert kinds == [
        ("Contact", "2"),
        ("Rejected", "3"),
        ("Rejected", "5"),
        ("Contact", "7"),
        ("Contact", "8"),
    ]
    assert "invalid email address 'not-an-address'" in items[1].reason
    assert items[2].reason == "repeated address A@example.com"
    assert (items[1].code, items[2].code) == (INVALID, REPEATED)
    assert items[4].email == "user@xn--bcher-kva.example"  # sent in its ASCII form


def test_non_ascii_local_parts_are_rejected(tmp_path: Path) -> None:
    (item,) = read(write(tmp_path, "email\nzoë@example.com\n"))
    assert isinstance(item, Rejected)


def test_quoted_fields_with_newlines_keep_the_first_line_as_origin(tmp_path: Path) -> None:
    items = read(write(tmp_path, 'email,note\na@example.com,"two\nlines"\nb@example.com,x\n'))
    assert [i.origin.rsplit(":", 1)[1] for i in items] == ["2", "4"]
    assert items[0].fields["note"] == "two\nlines"


def test_short_rows_lack_the_last_fields_and_long_rows_are_rejected(tmp_path: Path) -> None:
    items = read(write(tmp_path, "email,a,b\nx@example.com,1\ny@example.com,1,2,3\n"))
    assert items[0].fields == {"email": "x@example.com", "a": "1"}
    assert items[1].reason == "4 fields where the header has 3"


def test_streams_without_reading_everything_first(tmp_path: Path) -> None:
    path = write(tmp_path, "email\n" + "".join(f"u{i}@example.com\n" for i in range(1000)))
    iterator = iter(CsvSource(str(path), None))
    first = next(iterator)
    assert first.fields["email"] == "u0@example.com"


def test_estimate_count_comes_from_the_rows_read_never_from_a_second_pass(tmp_path: Path) -> None:
    rows = "".join(f"user{i:05d}@example.com,Name{i % 7}\n" for i in range(3000))
    source = CsvSource(str(write(tmp_path, "email,name\n" + rows)), None)
    source.validate()
    assert source.estimate_count() is None  # nothing read yet: no count, rather than a scan
    iterator = iter(source)
    for _ in range(50):
        next(iterator)
    assert 2700 <= source.estimate_count() <= 3300  # the size over the bytes per row so far
    rest = list(iterator)
    assert len(rest) == 2950
    assert source.estimate_count() == 3000  # read to the end: exact


def test_estimate_count_of_a_small_file_read_to_its_end_is_exact(tmp_path: Path) -> None:
    for text in ("email\na@x.com\nb@x.com", "email\na@x.com\nb@x.com\n"):
        source = CsvSource(str(write(tmp_path, text)), None)
        assert len(read(source.path)) == 2 and source.estimate_count() is None  # read() builds its own
        iterator = iter(source)
        next(iterator)
        assert source.estimate_count() == 2  # the whole file is in the first read already
        assert len(list(iterator)) == 1 and source.estimate_count() == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_read_once_validate_included(tmp_path: Path) -> None:
    fifo = tmp_path / "contacts.csv"
    os.mkfifo(fifo)
    text = "email,name\n" + "".join(f"u{i}@example.com,N{i}\n" for i in range(5000))
    writer = threading.Thread(target=fifo.write_text, args=(text,))
    writer.start()
    try:
        source = CsvSource(str(fifo), None)
        source.validate()  # reads the header from the buffer the iteration goes on with
        records = list(source)
    finally:
        writer.join()
    assert [r.fields["email"] for r in records] == [f"u{i}@example.com" for i in range(5000)]
    assert source.estimate_count() == 5000


def test_sniff_prefers_the_most_frequent_candidate() -> None:
    assert sniff_delimiter("email;name;city\n") == ";"
    assert sniff_delimiter("email\n") == ","


cell = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), max_size=30)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(cell, cell), min_size=1, max_size=15),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    bom=st.booleans(),
)
def test_write_read_round_trip_with_arbitrary_unicode(
    tmp_path: Path, rows, delimiter: str, bom: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["email", "name", "note"])
    for index, (name, note) in enumerate(rows):
        writer.writerow([f"user{index}@example.com", name, note])
    data = buffer.getvalue().encode("utf-8")
    path = write(tmp_path, (b"\xef\xbb\xbf" if bom else b"") + data, "round.csv")
    items = read(path)
    assert [i.fields for i in items] == [
        {"email": f"user{i}@example.com", "name": name, "note": note} for i, (name, note) in enumerate(rows)
    ]


def test_a_cell_over_the_field_limit_rejects_that_row_and_the_run_goes_on(tmp_path: Path) -> None:
    big = "x" * (csv.field_size_limit() + 1)
    items = read(write(tmp_path, f"email,note\na@example.com,A\nb@example.com,{big}\nc@example.com,C\n"))
    assert [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items] == [
        ("Contact", "2"),
        ("Rejected", "3"),
        ("Contact", "4"),
    ]
    assert items[1].reason == f"a cell is larger than {csv.field_size_limit()} characters (128 KiB)"
    assert items[1].code == UNREADABLE  # what status and reports group by


def test_an_oversized_quoted_cell_over_several_lines_is_skipped_whole(tmp_path: Path) -> None:
    # the rest of the quoted cell must not be read as rows of its own (one holds an address)
    lines = "\n".join(["y" * 40_000] * 4 + ["x@example.com,z"])
    text = f'email,note\na@example.com,"{lines}"\nc@example.com,C\n'
    items = read(write(tmp_path, text))
    assert [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items] == [
        ("Rejected", "2"),
        ("Contact", "7"),
    ]
    assert items[1].email == "c@example.com"


def test_a_carriage_return_inside_an_unquoted_cell_rejects_that_row(tmp_path: Path) -> None:
    items = read(write(tmp_path, b"email,note\na@example.com,x\ry\nb@example.com,B\n"))
    assert [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items] == [
        ("Rejected", "2"),
        ("Contact", "3"),
    ]
    assert "carriage return" in items[0].reason


def test_an_oversized_header_cell_is_an_error_naming_line_1(tmp_path: Path) -> None:
    big = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(SourceError, match=r"c.csv:1: header row: a cell is larger than"):
        read(write(tmp_path, f"email,{big}\na@example.com,A\n"))


def test_a_quote_never_closed_rejects_its_row_and_names_the_lines_it_swallowed(tmp_path: Path) -> None:
    items = read(write(tmp_path, 'email,name\na@example.com,Ana\nb@example.com,"Bo\nc@example.com,Cy\n'))
    assert [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items] == [
        ("Contact", "2"),
        ("Rejected", "3"),
    ]
    assert items[1].reason == "a quoted cell is never closed: lines 3-4 were read as one row"


def test_stray_quotes_in_an_oversized_unquoted_cell_swallow_nothing(tmp_path: Path) -> None:
    big = "x" * 140_000 + ' a 5" screen'  # one quote, literal in an unquoted cell
    items = read(write(tmp_path, f"email,note\na@example.com,{big}\nb@example.com,B\nc@example.com,C\n"))
    assert [(type(i).__name__, i.origin.rsplit(":", 1)[1]) for i in items] == [
        ("Rejected", "2"),
        ("Contact", "3"),
        ("Contact", "4"),
    ]


@given(
    st.lists(
        st.lists(st.text(st.sampled_from('ab",; \n'), max_size=8), min_size=2, max_size=2),
        min_size=1,
        max_size=8,
    )
)
def test_every_row_the_csv_module_writes_is_read_back_in_step(rows: list[list[str]]) -> None:
    """Quotes anywhere, in any cell: the quote tracking agrees with the csv module."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "note"])
    for i, (a, b) in enumerate(rows):
        writer.writerow([f"u{i}@example.com", a + b])
    source = CsvSource("-", None)
    source._open = lambda: io.BytesIO(buffer.getvalue().encode())  # type: ignore[method-assign]
    items = list(source)
    assert [type(i).__name__ for i in items] == ["SourceRecord"] * len(rows)
    assert [i.fields["note"] for i in items] == [a + b for a, b in rows]
