"""tierii-csv passes the contact source contract of tierii_core.testing."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from tierii_core.testing import ContactSourceContract
from tierii_csv import plugin as csv_plugin
from tierii_csv.source import CsvSource


class TestCsvContract(ContactSourceContract):
    @pytest.fixture
    def component_class(self):
        return CsvSource

    @pytest.fixture
    def plugin(self):
        return csv_plugin

    @pytest.fixture
    def make_location(self, tmp_path: Path):
        numbers = itertools.count(1)

        def make(records) -> str:
            path = tmp_path / f"contacts-{next(numbers)}.csv"
            rows = iter(records)
            first = next(rows)
            with path.open("w", newline="", encoding="utf-8") as file:
                writer = csv.DictWriter(file, fieldnames=list(first))
                writer.writeheader()
                writer.writerow(first)
                writer.writerows(rows)
            return str(path)

        return make

    @pytest.fixture
    def missing_location(self, tmp_path: Path):
        return str(tmp_path / "no-such-file.csv")
