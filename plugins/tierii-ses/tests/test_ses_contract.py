"""The core's delivery provider contract, run against moto's SES."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType

import pytest

import tierii_ses.plugin
from tierii_core.testing import DeliveryProviderContract
from tierii_ses.provider import SesProvider
from tierii_ses.settings import SesSettings
from tierii_ses.testing import LocalSes


class TestSesContract(DeliveryProviderContract):
    @pytest.fixture
    def component_class(self) -> type[SesProvider]:
        return SesProvider

    @pytest.fixture
    def plugin(self) -> ModuleType:
        return tierii_ses.plugin

    @pytest.fixture
    def component_settings(self, local_ses: LocalSes) -> SesSettings:
        # moto reports 1 message a second: the settings lift it, as a user's would
        return SesSettings(region="us-east-1", max_send_rate=1000.0, timeout=5.0)

    @pytest.fixture
    def unreachable_settings(self, local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch) -> SesSettings:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        return SesSettings(region="us-east-1", timeout=2.0)

    @pytest.fixture
    def delivered_to(self, local_ses: LocalSes) -> Callable[[], Sequence[str]]:
        return lambda: [r for m in local_ses.sent() for r in m.destinations]
