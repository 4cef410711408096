"""Signed unsubscribe links, and the endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.applications import Starlette

from tierii_core.cli import cli
from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_core.pending import PendingSuppressions
from tierii_core.suppression import SuppressionList, Suppressor
from tierii_core.testing.state_lock import hold_state_lock
from tierii_core.unsubscribe import UnsubscribeLinks
from tierii_core.unsubscribe_server import MAX_BODY, make_app

SECRET = Secret("a-test-secret-of-enough-length")
LINKS = UnsubscribeLinks("https://shop.example/u", SECRET, mailto="unsub@shop.example")


@given(st.emails())
def test_links_verify_to_their_address(email: str) -> None:
    token = LINKS.url(email).split("?t=", 1)[1]
    assert LINKS.verify(token) == email.lower()


@given(st.emails(), st.emails())
def test_a_signature_never_transfers_to_another_address(a: str, b: str) -> None:
    assume(a.lower() != b.lower())
    payload_b, signature_a = LINKS.token(b).split(".")[0], LINKS.token(a).split(".")[1]
    assert LINKS.verify(f"{payload_b}.{signature_a}") is None
    other = UnsubscribeLinks("https://shop.example/u", Secret("another-secret-of-enough-length"))
    assert other.verify(LINKS.token(a)) is None


def test_headers_are_rfc_8058() -> None:
    headers = dict(LINKS.headers(LINKS.url("ana@example.com")))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url, mailto = headers["List-Unsubscribe"].split(", ")
    assert (
        url.startswith("<https://shop.example/u?t=")
        and mailto == "<mailto:unsub@shop.example?subject=unsubscribe>"
    )


@pytest.mark.parametrize(
    ("url", "secret", "message"),
    [
        ("http://shop.example/u", SECRET, "expected an https:// URL"),
        ("https://shop.example/u", Secret("short"), "at least 16 characters"),
    ],
)
def test_bad_settings_are_refused(url: str, secret: Secret, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        UnsubscribeLinks(url, secret)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1: its base URL."""
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.ready.wait(10), "the server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The unsubscribe app served by uvicorn on a free port of 127.0.0.1."""
    with serving(make_app(LINKS, tmp_path)) as base:
        yield base, tmp_path


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        raise AssertionError("the endpoint must not redirect")


def fetch(url: str, data: bytes | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_one_click_post_suppresses_without_redirect(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    url = base + "/u?t=" + LINKS.token("Zoe@Example.com")
    status, body = fetch(url, b"List-Unsubscribe=One-Click")
    assert (status, body) == (200, "unsubscribed\n")
    assert stored(state) == ["zoe@example.com"]  # written before the answer, nothing queued
    assert PendingSuppressions(state).entries() == []
    suppressions = SuppressionList(state, read_only=True)
    assert [(s.entry, s.reason) for s in suppressions] == [("zoe@example.com", "one-click unsubscribe")]


def test_get_shows_a_confirmation_page_and_changes_nothing(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    status, body = fetch(base + "/u?t=" + LINKS.token("ana@example.com"))
    assert status == 200 and '<form method="post">' in body and "ana@example.com" in body
    assert list(SuppressionList(state, read_only=True)) == []
    status, body = fetch(base + "/u?t=" + LINKS.token("ana@example.com"), b"")
    assert status == 200 and "will get no more marketing email" in body
    assert [s.entry for s in SuppressionList(state, read_only=True)] == ["ana@example.com"]


def test_forged_tokens_are_rejected(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    forged = UnsubscribeLinks("https://shop.example/u", Secret("the-attackers-own-secret-key")).token(
        "ceo@example.com"
    )
    assert fetch(base + "/u?t=" + forged, b"List-Unsubscribe=One-Click")[0] == 400
    assert fetch(base + "/u?t=nonsense")[0] == 400
    assert list(SuppressionList(state, read_only=True)) == []


def test_an_internationalised_unsubscribe_url_is_carried_in_its_ascii_form() -> None:
    links = UnsubscribeLinks("https://abmelden.bücher.example/ab/mëlden", Secret("s" * 32))
    url = links.url("ana@example.com")
    assert url.isascii()
    assert url.startswith("https://abmelden.xn--bcher-kva.example/ab/m%C3%ABlden?t=")
    _, value = links.headers(url)[0]
    assert value.isascii()
    assert links.path == "/ab/mëlden"  # the server still answers on the path as configured


def test_rotated_secrets_sign_with_the_first_and_accept_any() -> None:
    old = UnsubscribeLinks("https://shop.example/u", Secret("the-old-secret-that-leaked"))
    rotated = UnsubscribeLinks(
        "https://shop.example/u", Secret("a-brand-new-secret-0123456789, the-old-secret-that-leaked")
    )
    new_only = UnsubscribeLinks("https://shop.example/u", Secret("a-brand-new-secret-0123456789"))
    sent_before = old.token("ana@example.com")
    assert rotated.verify(sent_before) == "ana@example.com"  # links already sent keep working
    assert rotated.token("ana@example.com") == new_only.token("ana@example.com")  # signed with the first
    assert old.verify(rotated.token("ana@example.com")) is None
    assert new_only.verify(sent_before) is None  # once the old secret is dropped, its links stop


def test_every_rotated_secret_must_be_long_enough() -> None:
    with pytest.raises(ConfigurationError, match="several such secrets"):
        UnsubscribeLinks("https://shop.example/u", Secret("a-brand-new-secret-0123456789,short"))


def stored(state: Path) -> list[str]:
    """The entries in the state database itself (not the queue)."""
    db = sqlite3.connect(state / "journal.sqlite3")
    try:
        return [row[0] for row in db.execute("SELECT entry FROM suppressions ORDER BY entry")]
    finally:
        db.close()


def test_a_body_announced_over_1_mib_is_413_without_being_read(endpoint: tuple[str, Path]) -> None:
    base, state = endpoint
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        # only the headers go out: the answer comes without waiting for the announced megabyte
        connection.putrequest("POST", "/u?t=" + LINKS.token("ana@example.com"))
        connection.putheader("Content-Length", str(MAX_BODY + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert (response.status, response.read()) == (413, f"body larger than {MAX_BODY} bytes\n".encode())
    finally:
        connection.close()
    assert stored(state) == []
    assert fetch(base + "/u?t=" + LINKS.token("ana@example.com"), b"x" * (MAX_BODY - 1))[0] == 200
    assert stored(state) == ["ana@example.com"]


def test_a_chunked_body_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    """No Content-Length to refuse it by: reading stops past the limit. Driven through the ASGI
    interface, which shows how much was read (over a socket the client would still be sending)."""
    chunk = b"x" * 65536
    total = MAX_BODY // len(chunk) * 300  # 300 MiB, as in the attack
    read = 0
    answer: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < total}

    async def send(message: dict) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/u",
        "headers": [(b"transfer-encoding", b"chunked")],
        "query_string": f"t={LINKS.token('ana@example.com')}".encode(),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8025),
    }
    asyncio.run(make_app(LINKS, tmp_path)(scope, receive, send))
    assert answer[0]["status"] == 413
    assert read == MAX_BODY // len(chunk) + 1  # the first chunk past the limit, and no more
    assert stored(tmp_path) == []


def test_with_the_state_locked_an_unsubscribe_is_queued_answered_and_applied_when_it_frees(
    tmp_path: Path,
) -> None:
    app = make_app(LINKS, tmp_path)
    suppressor: Suppressor = app.state.suppressor
    url_of = {email: "/u?t=" + LINKS.token(email) for email in ("ana@example.com", "bo@example.com")}
    with serving(app) as base:
        with hold_state_lock(tmp_path):
            assert fetch(base + url_of["ana@example.com"], b"List-Unsubscribe=One-Click") == (
                200,
                "unsubscribed\n",
            )
            assert fetch(base + url_of["bo@example.com"])[0] == 200  # GET still answers
            # durably queued, not yet in the database, and already honoured by a send's check
            assert [item.entry for _, item in PendingSuppressions(tmp_path).entries()] == ["ana@example.com"]
            assert stored(tmp_path) == []
            assert SuppressionList(tmp_path, read_only=True).suppressed(["Ana@Example.com"]) == {
                "Ana@Example.com"
            }
            assert not suppressor.applied.is_set()
        assert suppressor.applied.wait(10), "the queue was not applied when the lock freed"
        assert stored(tmp_path) == ["ana@example.com"]
        assert PendingSuppressions(tmp_path).entries() == []
        (row,) = SuppressionList(tmp_path, read_only=True)
        assert (row.reason, row.source) == ("one-click unsubscribe", "unsubscribe")


def test_a_queued_unsubscribe_is_applied_at_the_next_start(tmp_path: Path) -> None:
    Suppressor(tmp_path).close()  # the state database exists, as it does after any run
    with hold_state_lock(tmp_path):
        first = Suppressor(tmp_path)
        assert first.suppress("ana@example.com", "one-click unsubscribe", "unsubscribe") is True
        assert first.suppress("ANA@example.com", "again", "unsubscribe") is False
        first.close()  # stopped before the lock freed: the entry waits in the queue
    assert stored(tmp_path) == []
    Suppressor(tmp_path).close()
    assert stored(tmp_path) == ["ana@example.com"]
    assert PendingSuppressions(tmp_path).entries() == []


def test_a_queued_unsubscribe_is_honoured_by_the_next_send(tmp_path: Path, examples: Path) -> None:
    state = tmp_path / "state"
    Suppressor(state).close()
    with hold_state_lock(state):
        suppressor = Suppressor(state)
        suppressor.suppress("b@example.com", "one-click unsubscribe", "unsubscribe")
        suppressor.close()
    contacts = tmp_path / "people.csv"
    contacts.write_text(
        "email,first_name,last_name,favorite,city\n"
        "a@example.com,Ana,A,sativa,LA\nb@example.com,Bo,B,indica,SF\n"
    )
    env = {"TIERII_STATE_DIR": str(state), "TIERII_OUTBOX_DIR": str(tmp_path / "outbox")}
    demo = Path(__file__).resolve().parents[1] / "examples" / ".env.example"
    result = CliRunner(env=env).invoke(
        cli, ["--env-file", str(demo), "send", str(contacts), "-t", str(examples / "welcome.mustache")]
    )
    assert result.exit_code == 0, result.output
    assert "excluded: 1" in result.stdout and "suppressed: 1" in result.stdout
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1
