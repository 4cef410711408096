"""The core's delivery provider contract, run against the local MailerSend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

import pytest

import tierii_mailersend.plugin
from tierii_core.models import Secret
from tierii_core.testing import DeliveryProviderContract
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import MailerSendSettings
from tierii_mailersend.testing import LocalMailerSend


class TestMailerSendContract(DeliveryProviderContract):
    @pytest.fixture
    def api(self) -> Iterator[LocalMailerSend]:
        with LocalMailerSend(
            bulk_delay=0.01, limits={"email": None, "bulk-email": None, "other": None}
        ) as api:
            yield api

    @pytest.fixture
    def component_class(self) -> type[MailerSendProvider]:
        return MailerSendProvider

    @pytest.fixture
    def plugin(self) -> ModuleType:
        return tierii_mailersend.plugin

    @pytest.fixture
    def component_settings(self, api: LocalMailerSend) -> MailerSendSettings:
        return MailerSendSettings(api_token=Secret(api.token), base_url=api.base_url, poll_interval=0.01)

    @pytest.fixture
    def unreachable_settings(self) -> MailerSendSettings:
        return MailerSendSettings(api_token=Secret("t"), base_url="http://127.0.0.1:9/v1/", timeout=2.0)

    @pytest.fixture
    def delivered_to(self, api: LocalMailerSend) -> Callable[[], Sequence[str]]:
        return lambda: [m.recipient for m in api.messages]
