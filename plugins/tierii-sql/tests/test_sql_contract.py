"""tierii-sql passes the contact source contract, on SQLite files and on PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tierii_core.testing import ContactSourceContract
from tierii_sql import plugin as sql_plugin
from tierii_sql.source import SqlSource


class SqlContract(ContactSourceContract):
    @pytest.fixture
    def component_class(self):
        return SqlSource

    @pytest.fixture
    def plugin(self):
        return sql_plugin


class TestSqliteContract(SqlContract):
    @pytest.fixture
    def make_location(self, sqlite_db, table_writer):
        engine, path = sqlite_db
        numbers = itertools.count(1)

        def make(records) -> str:
            name = f"contacts_{next(numbers)}"
            table_writer(engine, name, records)
            return f"sqlite:///{path}?table={name}"

        return make

    @pytest.fixture
    def missing_location(self, tmp_path: Path):
        return f"sqlite:///{tmp_path / 'no-such.db'}?table=contacts"


class TestPostgresContract(SqlContract):
    @pytest.fixture
    def make_location(self, postgres_schema, postgres_location, table_writer):
        engine, schema = postgres_schema
        numbers = itertools.count(1)

        def make(records) -> str:
            name = f"contacts_{next(numbers)}"
            table_writer(engine, name, records, schema=schema)
            return postgres_location(f"{schema}.{name}")

        return make

    @pytest.fixture
    def missing_location(self, postgres_schema, postgres_location):
        return postgres_location(f"{postgres_schema[1]}.no_such_table")
