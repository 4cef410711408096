"""The core's delivery provider contract, run against the local ACS."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

import pytest

import tierii_azure.plugin
from tierii_azure.provider import AzureProvider
from tierii_azure.settings import AzureSettings
from tierii_azure.testing import LocalAcs
from tierii_azure.testing.fixtures import FAST_FIELDS as FAST
from tierii_core.models import Secret
from tierii_core.testing import DeliveryProviderContract


class TestAzureContract(DeliveryProviderContract):
    @pytest.fixture
    def acs(self) -> Iterator[LocalAcs]:
        with LocalAcs() as acs:
            yield acs

    @pytest.fixture
    def component_class(self) -> type[AzureProvider]:
        return AzureProvider

    @pytest.fixture
    def plugin(self) -> ModuleType:
        return tierii_azure.plugin

    @pytest.fixture
    def component_settings(self, acs: LocalAcs) -> AzureSettings:
        return AzureSettings(connection_string=Secret(acs.connection_string()), **FAST)

    @pytest.fixture
    def unreachable_settings(self) -> AzureSettings:
        key = "a2V5"  # base64 of "key": well-formed, nothing listens on port 9
        return AzureSettings(
            connection_string=Secret(f"endpoint=http://127.0.0.1:9/;accesskey={key}"),
            **{**FAST, "timeout": 2.0},
        )

    @pytest.fixture
    def delivered_to(self, acs: LocalAcs) -> Callable[[], Sequence[str]]:
        return lambda: [m.recipient for m in acs.delivered]
