"""Shared test support: a loopback-only network guard, message and provider factories."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from tierii_core.models import Address, Contact, Credentials, Message, Secret
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import MailerSendSettings
from tierii_mailersend.testing import LocalMailerSend

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: nothing listens on the discard port: a test that forgets to point at the local MailerSend
#: fails on a refused local connection instead of reaching api.mailersend.com
UNREACHABLE_LOCAL = "http://127.0.0.1:9/v1/"


class NetworkGuard:
    """Refuses to resolve any host but the loopback, and remembers who asked."""

    def __init__(self) -> None:
        self.refused: list[str] = []


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            guard.refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: {name} is not the loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("TIERII_MAILERSEND_BASE_URL", UNREACHABLE_LOCAL)
    monkeypatch.delenv("TIERII_MAILERSEND_API_TOKEN", raising=False)
    monkeypatch.delenv("MAILERSEND_API_KEY", raising=False)
    yield guard


def _make_message(index: int, **changes: Any) -> Message:
    email = f"user{index}@example.com"
    message = Message(
        contact=Contact(email, {"email": email, "first_name": f"User{index}"}),
        sender=Address("shop@example.com", "The Shop"),
        to=Address(email, f"User{index}"),
        subject=f"Hello User{index}",
        text=f"Dear User{index}, welcome.",
        html=f"<p>Dear User{index}, welcome.</p>",
        message_id=f"<{index}@example.com>",
        date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )
    return attrs.evolve(message, **changes) if changes else message


@pytest.fixture(scope="session")
def make_message() -> Callable[..., Message]:
    """``make_message(i, **changes)``: the rendered message for user{i}@example.com."""
    return _make_message


@pytest.fixture(scope="session")
def messages() -> Callable[..., list[Message]]:
    """``messages(n)``: n distinct rendered messages, user0@example.com ... user{n-1}."""
    return lambda count, start=0: [_make_message(i) for i in range(start, start + count)]


@pytest.fixture
def provider_for() -> Iterator[Callable[..., MailerSendProvider]]:
    """``provider_for(api, **settings)``: an opened provider pointed at a local MailerSend."""
    opened: list[MailerSendProvider] = []

    def build(api: LocalMailerSend, token: str | None = None, **fields: Any) -> MailerSendProvider:
        fields.setdefault("poll_interval", 0.01)
        fields.setdefault("poll_timeout", 10.0)
        fields.setdefault("timeout", 5.0)
        secret = Secret(token if token is not None else api.token)
        settings = MailerSendSettings(api_token=secret, base_url=api.base_url, **fields)
        provider = MailerSendProvider(settings, Credentials(secret=secret))
        provider.open()
        opened.append(provider)
        return provider

    yield build
    for provider in opened:
        provider.close()
