"""The delivery provider contract: one outcome per message, matched by email; a context manager."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tierii_core.components import DeliveryProvider
from tierii_core.errors import FatalProviderError
from tierii_core.models import CheckStep, Credentials, Message, Outcome, Status
from tierii_core.plugins import make_plugin_manager
from tierii_core.testing.contracts.base import ComponentContract, _needed
from tierii_core.testing.messages import make_message


def _batch(prefix: str, count: int) -> list[Message]:
    return [make_message(f"{prefix}{i}@example.com", name=f"Recipient {i}") for i in range(count)]


class DeliveryProviderContract(ComponentContract):
    """Checks for a :class:`~tierii_core.components.DeliveryProvider`.

    Fixtures to provide: ``component_class``, ``plugin``, ``component_settings`` (settings
    that make it deliver to a test service: an ``smtp_sink``, a local API...),
    ``delivered_to`` (a function returning the recipient addresses the service received, one
    entry per delivery); optionally ``credentials`` (default: what the
    ``tierii_resolve_credentials`` hook gives for the settings, as in a run) and
    ``unreachable_settings`` (settings pointing where no service answers).
    """

    kind = DeliveryProvider
    kind_key = "provider"

    @pytest.fixture
    def delivered_to(self) -> Callable[[], Sequence[str]]:
        return _needed("delivered_to", "a function returning the recipients the test service received")

    @pytest.fixture
    def unreachable_settings(self) -> Any:
        """Override with settings that point where nothing answers (a closed port, a file as directory)."""
        return None

    @pytest.fixture
    def credentials(
        self,
        component_class: type[DeliveryProvider],
        component_settings: Any,
        contract_environment: pytest.MonkeyPatch,
    ) -> Credentials | None:
        pm = make_plugin_manager(load_entry_points=False)
        return pm.hook.tierii_resolve_credentials(provider=component_class.name, settings=component_settings)

    @pytest.fixture
    def provider(
        self,
        component_class: type[DeliveryProvider],
        component_settings: Any,
        credentials: Credentials | None,
    ) -> DeliveryProvider:
        return component_class(component_settings, credentials)

    def _send(self, provider: DeliveryProvider, messages: list[Message]) -> list[Outcome]:
        outcomes = provider.send(messages)
        assert isinstance(outcomes, list), f"send() must return a list of Outcome, got {outcomes!r}"
        assert len(outcomes) == len(messages), (
            f"send() returned {len(outcomes)} outcomes for {len(messages)} messages: exactly one each"
        )
        assert all(isinstance(o, Outcome) for o in outcomes)
        assert sorted(o.email for o in outcomes) == sorted(m.contact.email for m in messages), (
            "outcomes are matched to messages by email: each message's contact.email exactly once"
        )
        return outcomes

    def _batch_size(self, provider_class: type[DeliveryProvider]) -> int:
        return min(provider_class.max_batch, 3)

    def test_declares_its_limits(self, component_class: type[DeliveryProvider]) -> None:
        assert isinstance(component_class.max_batch, int) and component_class.max_batch >= 1
        assert isinstance(component_class.priority, int)
        limit = component_class.max_per_minute
        assert limit is None or (isinstance(limit, (int, float)) and limit > 0)

    def test_test_settings_are_configured(
        self, component_class: type[DeliveryProvider], component_settings: Any
    ) -> None:
        assert component_class.is_configured(component_settings) is True, (
            "is_configured() must be True for the settings the tests deliver with"
        )

    def test_is_a_context_manager(self, provider: DeliveryProvider) -> None:
        with provider as entered:
            assert entered is provider, "__enter__ must return the provider (the base class does)"

    def test_one_outcome_per_message_matched_by_email(
        self, provider: DeliveryProvider, delivered_to: Callable[[], Sequence[str]]
    ) -> None:
        messages = _batch("one", self._batch_size(type(provider)))
        with provider:
            outcomes = self._send(provider, messages)
        assert all(o.status is Status.SENT for o in outcomes), f"the test service accepts all: {outcomes!r}"
        assert all(o.provider == provider.name for o in outcomes), "Outcome.provider is the provider's name"
        assert sorted(delivered_to()) == sorted(m.contact.email for m in messages)

    def test_several_batches_in_one_session(self, provider: DeliveryProvider, delivered_to: Callable) -> None:
        first, second = _batch("first", self._batch_size(type(provider))), _batch("second", 1)
        with provider:
            self._send(provider, first)
            self._send(provider, second)
        assert sorted(delivered_to()) == sorted(m.contact.email for m in first + second)

    def test_non_ascii_names_and_subjects(self, provider: DeliveryProvider, delivered_to: Callable) -> None:
        message = make_message("zoe@example.com", name="Zoë Çelik", subject="Ваш заказ готов, Zoë ✓")
        with provider:
            [outcome] = self._send(provider, [message])
        assert outcome.status is Status.SENT, f"{outcome!r}"
        assert list(delivered_to()) == ["zoe@example.com"]

    def test_send_from_several_threads(self, provider: DeliveryProvider, delivered_to: Callable) -> None:
        batches = [_batch(f"thread{t}-", self._batch_size(type(provider))) for t in range(3)]
        results: list[list[Outcome]] = []
        errors: list[BaseException] = []

        def work(batch: list[Message]) -> None:
            try:
                results.append(provider.send(batch))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        with provider:
            threads = [threading.Thread(target=work, args=(b,)) for b in batches]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert not errors, f"send() from worker threads raised: {errors!r}"
        assert sorted(o.email for r in results for o in r) == sorted(
            m.contact.email for b in batches for m in b
        )
        assert sorted(delivered_to()) == sorted(m.contact.email for b in batches for m in b)

    def test_check_reports_steps(self, provider: DeliveryProvider) -> None:
        steps = list(provider.check())
        assert steps and all(isinstance(s, CheckStep) for s in steps), (
            f"check() must yield CheckStep: {steps!r}"
        )
        assert all(s.ok for s in steps), f"check() fails with the test settings: {steps!r}"

    def test_unreachable_service_never_counts_as_sent(
        self,
        component_class: type[DeliveryProvider],
        unreachable_settings: Any,
        contract_environment: pytest.MonkeyPatch,
    ) -> None:
        if unreachable_settings is None:
            pytest.skip(
                "provide an 'unreachable_settings' fixture to check behaviour when the service is down"
            )
        pm = make_plugin_manager(load_entry_points=False)
        credentials = pm.hook.tierii_resolve_credentials(
            provider=component_class.name, settings=unreachable_settings
        )
        provider = component_class(unreachable_settings, credentials)
        messages = _batch("down", self._batch_size(component_class))
        try:
            with provider:
                outcomes = self._send(provider, messages)
        except FatalProviderError as exc:
            assert str(exc).strip(), "say what failed"
            return
        assert all(o.status in (Status.FAILED, Status.UNKNOWN) for o in outcomes), (
            f"nothing was delivered, so no outcome may be 'sent': {outcomes!r}"
        )
        assert all(o.reason for o in outcomes), f"each failure needs a reason: {outcomes!r}"
