"""Every command that reads or writes the state works against either store: TIERII_STATE_URL
(which wins over TIERII_STATE_DIR) picks it. The password never shows."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from tierii_core.cli import cli
from tierii_core.errors import ConfigurationError
from tierii_core.feedback_store import HARD, Event, FeedbackStore
from tierii_core.journal import StateJournal
from tierii_core.models import Secret, Status
from tierii_core.state import VERSION, StateURL, Where, open_state, parse_state_url
from tierii_core.suppression import SuppressionList, Suppressor
from tierii_core.testing.postgres import plain_url
from tierii_core.unsubscribe import UnsubscribeLinks

DEMO_ENV = Path(__file__).resolve().parents[1] / "examples" / ".env.example"


def url_of(where: Where) -> str:
    return where.url if isinstance(where, StateURL) else f"sqlite:///{where}"


def tierii(where: Where, *args: str) -> Result:
    # TIERII_STATE_DIR points elsewhere: the URL wins
    env = {"TIERII_STATE_URL": url_of(where), "TIERII_STATE_DIR": "elsewhere"}
    return CliRunner(env=env).invoke(cli, ["--env-file", str(DEMO_ENV), *args])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sqlite:///.tierii", Path(".tierii")),
        ("sqlite:////var/lib/tierii", Path("/var/lib/tierii")),
        ("sqlite:////var/lib/tierii/journal.sqlite3", Path("/var/lib/tierii")),
        ("postgresql://u:p@db:5432/t", StateURL("postgresql://u:p@db:5432/t")),
        ("postgresql+psycopg://u:p@db/t", StateURL("postgresql://u:p@db/t")),
        ("postgres://u@db/t?sslmode=verify-full", StateURL("postgresql://u@db/t?sslmode=verify-full")),
    ],
)
def test_state_urls(text: str, expected: Where) -> None:
    assert parse_state_url(text) == expected


@pytest.mark.parametrize("text", ["mysql://u:s3cret@db/t", "sqlite://relative", "/var/lib/tierii"])
def test_a_bad_state_url_is_refused_with_its_password_masked(text: str) -> None:
    with pytest.raises(ConfigurationError, match="TIERII_STATE_URL") as raised:
        parse_state_url(text)
    assert "s3cret" not in str(raised.value)


def test_an_unreachable_server_is_a_configuration_error_that_hides_the_password() -> None:
    from tierii_core.testing.postgres import free_port

    url = StateURL(f"postgresql://tierii:s3cret-pw@127.0.0.1:{free_port()}/x?connect_timeout=2")
    with pytest.raises(ConfigurationError, match="cannot connect") as raised:
        open_state(url)
    assert "s3cret-pw" not in str(raised.value) and "tierii:***@127.0.0.1" in str(raised.value)


def test_send_status_report_and_a_resumed_send_on_either_store(state_where: Where, examples: Path) -> None:
    args = ["send", str(examples / "contacts.csv"), "-t", str(examples / "welcome.mustache")]
    first = tierii(state_where, *args, "--campaign", "spring", "--limit", "3")
    assert first.exit_code == 0, first.output
    second = tierii(state_where, *args, "--campaign", "spring")
    assert second.exit_code == 0, second.output
    assert "already done in an earlier run: 3" in second.output
    contacts = len((examples / "contacts.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert len(list(Path("outbox/new").iterdir())) == contacts  # each once
    status = tierii(state_where, "status", "--json")
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["campaign"] == "spring" and sum(report["counts"].values()) == contacts
    assert report["counts"]["sent"] + report["counts"]["excluded"] + report["counts"]["failed"] == contacts
    made = tierii(state_where, "report", "spring", "--json", "report.json")
    assert made.exit_code == 0, made.output
    assert not Path("elsewhere").exists()  # TIERII_STATE_DIR was not used


def test_suppress_commands_on_either_store(state_where: Where) -> None:
    assert tierii(state_where, "suppress", "add", "Ana@Example.com", "@blocked.example").exit_code == 0
    listed = tierii(state_where, "suppress", "list")
    assert "ana@example.com" in listed.output and "@blocked.example" in listed.output
    assert tierii(state_where, "suppress", "remove", "ana@example.com").exit_code == 0
    suppressions = SuppressionList(state_where, read_only=True)
    try:
        assert [s.entry for s in suppressions] == ["@blocked.example"]
        assert suppressions.suppressed(["x@Blocked.Example", "y@example.com"]) == {"x@Blocked.Example"}
    finally:
        suppressions.close()


def test_the_suppressor_writes_directly_and_the_first_reason_wins(state_where: Where) -> None:
    suppressor = Suppressor(state_where)
    try:
        assert suppressor.suppress("Zoe@Example.com", "one-click unsubscribe", "unsubscribe")
        assert not suppressor.suppress("zoe@example.com", "hard bounce", "ses")
    finally:
        suppressor.close()
    suppressions = SuppressionList(state_where, read_only=True)
    try:
        assert [(s.entry, s.reason) for s in suppressions] == [("zoe@example.com", "one-click unsubscribe")]
        assert suppressions.pending.entries() == []
    finally:
        suppressions.close()


def test_the_unsubscribe_endpoint_writes_to_either_store(state_where: Where) -> None:
    """A one-click POST through the app's ASGI interface (the socket is test_unsubscribe's)."""
    import asyncio

    from tierii_core.unsubscribe_server import make_app

    links = UnsubscribeLinks("https://shop.example/u", Secret("0123456789abcdef0123456789abcdef"))
    body = b"List-Unsubscribe=One-Click"
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/u",
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "query_string": f"t={links.token('Zoe@Example.com')}".encode(),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8025),
    }
    asyncio.run(make_app(links, state_where)(scope, receive, send))
    assert sent[0]["status"] == 200
    suppressions = SuppressionList(state_where, read_only=True)
    try:
        assert [s.entry for s in suppressions] == ["zoe@example.com"]
    finally:
        suppressions.close()


def test_feedback_store_on_either_store(state_where: Where) -> None:
    store = FeedbackStore(state_where)
    try:
        for _ in range(2):  # a report processed twice is recorded once
            store.record("r1", "inbox:1", HARD, [Event("a@example.com", HARD, "550", "spring", 1.0)])
        assert store.reports() == 1
        assert store.events("spring") == [("spring", "a@example.com", HARD, "550")]
        assert store.summary("spring", 10).hard_bounces == 1
    finally:
        store.close()


def test_state_info_and_upgrade_on_postgresql_never_show_the_password(postgres_state: StateURL) -> None:
    info = tierii(postgres_state, "state", "info", "--json")
    assert info.exit_code == 0, info.output
    assert json.loads(info.output)["exists"] is False
    created = tierii(postgres_state, "state", "upgrade")
    assert f"created at version {VERSION}" in created.output
    assert "nothing to do" in tierii(postgres_state, "state", "upgrade").output
    report = json.loads(tierii(postgres_state, "state", "info", "--json").output)
    assert report["version"] == VERSION and report["store"] == "postgresql"
    assert report["tables"]["recipients"] == 0 and report["tables"]["owners"] == 0
    password = StateURL(postgres_state.url).url.split("://", 1)[1].partition("@")[0].partition(":")[2]
    if password:
        for result in (info, created):
            assert password not in result.output
        assert password not in report["path"] and "***" in report["path"]


def test_an_older_tierii_refuses_a_newer_postgresql_schema(postgres_state: StateURL) -> None:
    open_state(postgres_state).close()
    with psycopg.connect(plain_url(postgres_state.url), autocommit=True) as db:
        db.execute("INSERT INTO state_version VALUES (%s, 'from the future', 0)", (VERSION + 5,))
    for read_only in (False, True):
        with pytest.raises(ConfigurationError, match=f"at version {VERSION + 5}"):
            open_state(postgres_state, read_only=read_only)
    result = tierii(postgres_state, "status")
    assert result.exit_code == 2 and f"version {VERSION + 5}" in result.output


def test_the_sqlite_and_postgresql_schemas_have_the_same_versions_and_tables(
    postgres_state: StateURL,
) -> None:
    from tierii_core import state, state_postgres

    assert [m.version for m in state.MIGRATIONS] == [m.version for m in state_postgres.MIGRATIONS]
    sqlite = open_state(Path("s"))
    postgres = open_state(postgres_state)
    try:
        assert set(sqlite.counts()) == set(postgres.counts())
        for table in sqlite.counts():
            lite = {row[1] for row in sqlite.connection.execute(f'PRAGMA table_info("{table}")')}
            pg = {
                row[0]
                for row in postgres.connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "AND table_schema = current_schema()",
                    (table,),
                )
            }
            assert lite == pg, table
    finally:
        sqlite.close()
        postgres.close()


def test_a_journal_reads_the_same_through_either_store(state_where: Where) -> None:
    journal = StateJournal(state_where)
    journal.open_campaign("c", "s", "t", ["outbox"])
    journal.claim("c", [("a@example.com", "s:1")], message_ids={"a@example.com": "<1.X@shop.example>"})
    found = journal.find_message("<1.x@SHOP.example>")
    assert found is not None and (found.email, found.state) == ("a@example.com", Status.PENDING)
    journal.close()


def test_processes_opening_a_new_postgresql_database_at_once_create_it_once(postgres_state: StateURL) -> None:
    """Two sends started together on an empty database: one creates the tables, the other
    waits for it and finds them (a transaction begun before they existed would not see them)."""
    import threading

    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def opener() -> None:
        start.wait()
        try:
            open_state(postgres_state).close()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_state(postgres_state, read_only=True)
    try:
        rows = store.connection.execute("SELECT version FROM state_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == list(range(1, VERSION + 1))
    finally:
        store.close()
