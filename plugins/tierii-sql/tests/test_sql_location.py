"""Parsing locations: URL + table or query; passwords never shown. Property-based."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tierii_core.errors import SourceError
from tierii_sql.location import mask_url_text, parse_location
from tierii_sql.source import SqlSource

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
secrets_ = st.text(min_size=4, max_size=30).filter(lambda s: s.strip() == s and s.strip())
users = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)
drivers = st.sampled_from(["postgresql", "postgresql+psycopg", "postgresql+psycopg2"])
parameters = st.dictionaries(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k != "table"),
    st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    max_size=3,
)


@given(
    driver=drivers,
    user=users,
    password=secrets_,
    database=identifiers,
    schema=st.none() | identifiers,
    table=identifiers,
    extra=parameters,
)
def test_table_and_driver_parameters_round_trip_with_the_password_hidden(
    driver, user, password, database, schema, table, extra
):
    qualified = f"{schema}.{table}" if schema else table
    query = "&".join([f"table={quote(qualified)}"] + [f"{k}={quote(v)}" for k, v in extra.items()])
    head, tail = f"{driver}://{quote(user, safe='')}:", f"@127.0.0.1:5432/{database}?{query}"
    location = head + quote(password, safe="") + tail
    elsewhere = head + tail
    assume(password not in elsewhere and quote(password, safe="") not in elsewhere)
    target = parse_location(location)

    assert (target.schema, target.table, target.query) == (schema, table, None)
    assert target.url.password == password and target.url.username == user
    assert dict(target.url.query) == extra, "other parameters go to the driver; 'table' does not"
    assert target.url.drivername == ("postgresql+psycopg" if driver == "postgresql" else driver)
    assert password not in target.shown and quote(password, safe="") not in target.shown
    assert password not in target.mask(f"failed for {location} ({password})")


@given(text=st.text(max_size=200))
def test_any_text_is_a_target_or_a_source_error(text):
    try:
        parse_location(text, table="contacts")
    except SourceError as exc:
        assert str(exc)


@given(
    user=identifiers,
    password=secrets_.filter(lambda s: not any(c in s for c in "@/ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0")),
)
def test_unparseable_urls_are_reported_without_their_password(user, password):
    location = f"postgresql://{user}:{password}@127.0.0.1:notaport/crm?table=contacts"
    # a password that is also a piece of the rest of the message ("tabl") proves nothing
    assume(
        password not in f"postgresql://{user}:***@127.0.0.1:notaport/crm?table=contacts: not a database URL"
    )
    assume(password not in "invalid literal for int() with base 10: 'notaport'")
    with pytest.raises(SourceError) as caught:
        parse_location(location)
    assert password not in str(caught.value)
    assert password not in mask_url_text(location)


def test_table_from_settings_when_the_url_has_none():
    target = parse_location("sqlite:///crm.db", table="crm.contacts")
    assert (target.schema, target.table, target.what) == ("crm", "contacts", "table crm.contacts")


def test_url_table_wins_over_the_setting():
    assert parse_location("sqlite:///crm.db?table=vip", table="contacts").table == "vip"


def test_query_from_settings():
    target = parse_location("sqlite:///crm.db", query="  SELECT * FROM contacts  ")
    assert (target.table, target.query, target.what) == (None, "SELECT * FROM contacts", "query")


@pytest.mark.parametrize(
    ("location", "settings", "message"),
    [
        ("sqlite:///crm.db", {}, "Add ?table=NAME to the URL, or set TIERII_SQL_TABLE"),
        ("sqlite:///crm.db?table=a", {"query": "SELECT 1"}, "both ?table= in the URL and TIERII_SQL_QUERY"),
        (
            "sqlite:///crm.db",
            {"table": "a", "query": "SELECT 1"},
            "both TIERII_SQL_TABLE and TIERII_SQL_QUERY",
        ),
        ("sqlite:///crm.db?table=a&table=b", {}, "'?table=' is given 2 times"),
        ("sqlite:///crm.db?table=.contacts", {}, "is not a table name"),
        ("sqlite:///crm.db?table=contacts.", {}, "is not a table name"),
        ("not a url", {"table": "a"}, "not a database URL"),
    ],
)
def test_unclear_locations_are_source_errors(location, settings, message):
    with pytest.raises(SourceError, match=message.replace("?", r"\?").replace(".", r"\.")):
        parse_location(location, **settings)


@pytest.mark.parametrize(
    ("location", "claimed"),
    [
        ("sqlite:///crm.db?table=contacts", True),
        ("SQLITE:///CRM.DB?table=contacts", True),
        ("sqlite+pysqlite:///crm.db", True),
        ("postgresql://u:p@127.0.0.1/crm?table=contacts", True),
        ("postgresql+psycopg://u:p@127.0.0.1/crm", True),
        ("contacts.csv", False),
        ("mysql://u:p@127.0.0.1/crm", False),
        ("sqlite.csv", False),
    ],
)
def test_claims_database_urls_by_scheme(location, claimed):
    assert SqlSource.claims(location) is claimed


def test_a_password_given_as_a_url_option_is_masked_too():
    target = parse_location("postgresql://crm:pw-one@db/crm?table=contacts&password=pw-two")
    assert target.shown == "postgresql+psycopg://crm:***@db/crm?password=***"
