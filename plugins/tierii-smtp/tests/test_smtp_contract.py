"""The core's delivery provider contract, run against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from tierii_core.testing import DeliveryProviderContract
from tierii_smtp import plugin
from tierii_smtp.provider import SmtpProvider
from tierii_smtp.settings import SmtpSettings


class TestSmtpProviderContract(DeliveryProviderContract):
    @pytest.fixture
    def component_class(self) -> type[SmtpProvider]:
        return SmtpProvider

    @pytest.fixture
    def plugin(self) -> object:
        return plugin

    @pytest.fixture
    def component_settings(self, server, settings_for) -> SmtpSettings:
        return settings_for(server, connections=2)

    @pytest.fixture
    def delivered_to(self, server) -> Callable[[], Sequence[str]]:
        return lambda: server.recipients

    @pytest.fixture
    def unreachable_settings(self, closed_port: int) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=closed_port, security="none", timeout=5.0)
