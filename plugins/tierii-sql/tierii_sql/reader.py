"""Reading contacts from a database: rows of a table or a query, streamed with a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    MetaData,
    Select,
    Table,
    column,
    create_engine,
    func,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from tierii_core.contacts import find_email_column
from tierii_core.errors import RunStopped, SourceError
from tierii_core.models import Rejected, SourceRecord
from tierii_sql.location import Target, mask_url_text, parse_location
from tierii_sql.records import to_record


class SqlReader:
    """Reads contacts from a database table or query with SQLAlchemy (what SqlSource runs)."""

    def __init__(self, location: str, settings: Any) -> None:
        self.location = location
        self.settings = settings
        self.target: Target = parse_location(location, table=settings.table, query=settings.query)
        self.segment: Any = None  # a --where segment to push into the query (SqlSource.narrow)
        self.left_out = 0  # rows the pushed-down conditions kept from being read
        self._narrowed = False

    # -- connecting --------------------------------------------------------------------------

    def _engine(self) -> Engine:
        url = self.target.url
        if url.get_backend_name() == "sqlite":
            if url.host:  # sqlite://crm.db: the file name was read as a host
                path = "/".join(part for part in (url.host, url.database) if part)
                raise SourceError(
                    f"{mask_url_text(self.location)}: not a SQLite URL: a file needs three slashes "
                    f"before a relative path (sqlite:///{path}) and four before an absolute one "
                    "(sqlite:////var/data/crm.db)"
                )
            database = url.database or ""
            if (
                database not in ("", ":memory:")
                and not database.startswith("file:")
                and not Path(database).is_file()
            ):
                raise SourceError(f"{self.target.shown}: no such database file {database}")
        try:
            return create_engine(url, poolclass=NullPool)
        except (ValueError, TypeError, ArgumentError) as exc:  # an option SQLAlchemy parses itself
            raise self._option_error(exc) from None
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            hint = " (pip install 'tierii-sql[postgresql]')" if url.get_backend_name() == "postgresql" else ""
            raise SourceError(
                f"{self.target.shown}: no database driver for {url.drivername}{hint}: {exc}"
            ) from None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A read-only connection; every database error becomes a SourceError (exit 2)."""
        engine = self._engine()
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":
                    connection = connection.execution_options(postgresql_readonly=True)
                elif engine.dialect.name == "sqlite":
                    connection.exec_driver_sql("PRAGMA query_only = ON")
                yield connection
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.target.shown}: {self._problem(exc)}") from None
        finally:
            engine.dispose()

    def _option_error(self, exc: Exception) -> SourceError:
        """A driver option with a value the driver cannot use (``check_same_thread=maybe``,
        ``prepare_threshold=abc``): name it, or all of them when the driver does not say which."""
        options = [(key, str(value)) for key, value in self.target.url.query.items()]
        text = self.target.mask(" ".join(str(exc).split()))
        named = [(k, v) for k, v in options if v and (repr(v) in text or f'"{v}"' in text)]
        shown = [mask_url_text(f"?{k}={v}")[1:] for k, v in named or options]
        if len(named) == 1:
            which = f"the driver option {shown[0]}"
        else:
            which = f"one of the driver options ({', '.join(shown) or 'none'})"
        return SourceError(f"{self.target.shown}: the database driver refused {which}: {text}")

    def _problem(self, exc: SQLAlchemyError) -> str:
        original = exc.orig if isinstance(exc, DBAPIError) else exc
        lines = [line.strip() for line in str(original).splitlines() if line.strip()]
        return self.target.mask("; ".join(lines) or type(original).__name__)

    # -- what to read --------------------------------------------------------------------------

    def _table(self, connection: Connection) -> Table:
        target = self.target
        try:
            return Table(target.table, MetaData(), schema=target.schema, autoload_with=connection)
        except NoSuchTableError:
            known = inspect(connection).get_table_names(schema=target.schema)
            raise SourceError(
                f"{target.shown}: {target.what} not found (tables: {', '.join(known) or 'none'})"
            ) from None

    def _statement(self, connection: Connection) -> tuple[Select | Any, list[str]]:
        """The statement to run, and the primary key columns named in each origin."""
        if self.target.query is not None:
            return text(self.target.query), []
        reflected = self._table(connection)
        # untyped columns: values come as the driver gives them (no SQLAlchemy type processing)
        plain = table(reflected.name, *(column(c.name) for c in reflected.columns), schema=reflected.schema)
        keys = [c.name for c in reflected.primary_key.columns]
        statement = select(plain)
        if self.segment is not None:
            from tierii_sql.narrowing import conditions

            self.segment.check_columns([c.name for c in reflected.columns], self.target.shown)

            pushed = conditions(self.segment, reflected, plain)
            self._narrowed = bool(pushed)
            statement = statement.where(*pushed)
        return statement.order_by(*(plain.c[k] for k in keys)), keys

    def estimate_count(self) -> int | None:
        """The table's row count (one ``count(*)``); None for a query."""
        if self.target.query is not None:
            return None
        with self._connection() as connection:
            counted = self._table(connection)
            return int(connection.execute(select(func.count()).select_from(counted)).scalar_one())

    def _count(self, connection: Connection) -> int:
        counted = self._table(connection)
        return int(connection.execute(select(func.count()).select_from(counted)).scalar_one())

    # -- streaming -------------------------------------------------------------------------------

    def _rows(self, connection: Connection) -> tuple[CursorResult, list[str], int, list[int]]:
        """Run the statement (streaming): the result, its columns, the email and key indexes."""
        statement, keys = self._statement(connection)
        result = connection.execution_options(yield_per=self.settings.fetch_size).execute(statement)
        if not result.returns_rows:
            raise SourceError(f"{self.target.shown}: the query returns no rows: use a SELECT")
        columns = list(result.keys())
        email_index = find_email_column(columns)
        if email_index is None:
            result.close()
            shown = ", ".join(repr(c) for c in columns)
            raise SourceError(
                f"{self.target.shown}: {self.target.what} has no 'email' column (columns: {shown})"
            )
        return result, columns, email_index, [columns.index(k) for k in keys if k in columns]

    def validate(self) -> None:
        """Connect, find the table or run the query, and check for an email column: before sending.

        A driver option it cannot use surfaces here, as the driver's ValueError or TypeError
        (not a database error): it becomes a SourceError naming the option.
        """
        try:
            with self._connection() as connection:
                self._rows(connection)[0].close()
        except (ValueError, TypeError) as exc:
            raise self._option_error(exc) from None

    def __iter__(self) -> Iterator[SourceRecord | Rejected]:
        produced = 0
        try:
            with self._connection() as connection:
                result, columns, _, key_indexes = self._rows(connection)
                for number, row in enumerate(result, start=1):
                    origin = f"{self.target.what} row {number}"
                    if key_indexes:
                        origin += " (" + ", ".join(f"{columns[i]}={row[i]}" for i in key_indexes) + ")"
                    produced += 1
                    yield to_record(row, columns, origin)
                if self._narrowed:
                    self.left_out = self._count(connection) - produced
        except SourceError as exc:
            if produced:  # some contacts went out already: stop safely, a re-run resumes
                raise RunStopped(
                    f"{exc} (after {produced} rows); re-run the same command to resume"
                ) from None
            raise
