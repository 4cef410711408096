"""Shared test support: a loopback-only network guard, a clean TIERII_AZURE_* environment,
and an opened provider pointed at a local ACS."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tierii_azure.provider import AzureProvider
from tierii_azure.settings import AzureSettings
from tierii_azure.testing import LocalAcs
from tierii_azure.testing.fixtures import FAST_FIELDS as FAST
from tierii_core.models import Credentials, Secret

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuses to resolve any host but the loopback; no Azure variable leaks in."""
    refused: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: {name} is not the loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in list(os.environ):
        if name.startswith(("TIERII_AZURE_", "AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name)
    yield refused


@pytest.fixture
def provider_for() -> Iterator[Callable[..., AzureProvider]]:
    """``provider_for(acs, key=None, **settings)``: an opened provider pointed at ``acs``."""
    opened: list[AzureProvider] = []

    def build(acs: LocalAcs, key: str | None = None, **fields: Any) -> AzureProvider:
        secret = Secret(acs.connection_string(key))
        settings = AzureSettings(connection_string=secret, ca_bundle=acs.ca_bundle, **{**FAST, **fields})
        provider = AzureProvider(settings, Credentials())
        provider.open()
        opened.append(provider)
        return provider

    yield build
    for provider in opened:
        provider.close()
