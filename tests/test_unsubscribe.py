"""Signed unsubscribe links, and the endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from hypothesis import assume, given
from hypothesis import strategies as st

from tierii_core.errors import ConfigurationError
from tierii_core.models import Secret
from tierii_core.suppression import SuppressionList
from tierii_core.unsubscribe import UnsubscribeLinks
from tierii_core.unsubscribe_server import make_app

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


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The unsubscribe app served by uvicorn on a free port of 127.0.0.1."""
    server = _Server(uvicorn.Config(make_app(LINKS, tmp_path), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.ready.wait(10), "the server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", tmp_path
    server.should_exit = True
    thread.join(10)


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
