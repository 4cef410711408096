"""Shared test support: a loopback-only network guard, moto's server (one per session, emptied
for each test), boto3 pointed at it through AWS_ENDPOINT_URL, and provider factories."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tierii_core.models import Message
from tierii_core.testing.messages import make_message
from tierii_ses.provider import SesProvider
from tierii_ses.settings import SesSettings
from tierii_ses.testing import FaultProxy, LocalSes

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: variables boto3 reads that could point a test at a real account
AWS_VARIABLES = [name for name in os.environ if name.startswith("AWS_")]


class NetworkGuard:
    def __init__(self) -> None:
        self.refused: list[str] = []


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """No test resolves anything but the loopback, and none sees the machine's AWS settings."""
    guard = NetworkGuard()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            guard.refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: {name} is not the loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # nothing answers on the discard port: a test that forgets the local SES fails locally
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    yield guard


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalSes]:
    with LocalSes() as server:
        yield server


@pytest.fixture
def local_ses(moto_server: LocalSes, monkeypatch: pytest.MonkeyPatch) -> LocalSes:
    """moto's SES, empty but for the verified domain example.com, with boto3 pointed at it."""
    moto_server.reset()
    moto_server.verify_domain("example.com")
    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    return moto_server


@pytest.fixture
def proxy(local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The fault proxy in front of moto, and boto3 pointed at the proxy."""
    with FaultProxy(local_ses.url) as fault_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.url)
        yield fault_proxy


@pytest.fixture
def provider_for() -> Iterator[Callable[..., SesProvider]]:
    """``provider_for(**settings)``: an opened provider (region us-east-1, fast pacing)."""
    opened: list[SesProvider] = []

    def build(**fields: Any) -> SesProvider:
        fields.setdefault("region", "us-east-1")
        fields.setdefault("max_send_rate", 10000.0)
        fields.setdefault("timeout", 5.0)
        provider = SesProvider(SesSettings(**fields), None)
        provider.open()
        opened.append(provider)
        return provider

    yield build
    for provider in opened:
        provider.close()


@pytest.fixture
def messages() -> Callable[..., list[Message]]:
    """``messages(n)``: n distinct rendered messages, user0@example.org ... from shop@example.com."""
    return lambda count, start=0: [
        make_message(f"user{i}@example.org", name=f"User {i}", subject=f"Hello User {i}")
        for i in range(start, start + count)
    ]
