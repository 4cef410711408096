"""The compliance rule contract: None when the rule holds, else a one-line reason."""

from __future__ import annotations

from typing import Any

import pytest

from tierii_core.components import ComplianceRule
from tierii_core.settings import CoreSettings
from tierii_core.testing.contracts.base import ComponentContract, _needed

#: the checks a rule may implement, and the fixtures that feed each
CHECKS = {"check_contact": "contact", "check_message": "message"}


def implemented(rule_class: type[ComplianceRule]) -> list[str]:
    """The checks ``rule_class`` overrides: ``check_contact``, ``check_message`` or both."""
    return [name for name in CHECKS if getattr(rule_class, name) is not getattr(ComplianceRule, name)]


class ComplianceRuleContract(ComponentContract):
    """Checks for a :class:`~tierii_core.components.ComplianceRule`.

    Fixtures to provide: ``component_class``, ``plugin``; for a rule with ``check_contact``,
    ``passing_contact`` and ``failing_contact`` (:func:`tierii_core.testing.make_contact`);
    for a rule with ``check_message``, ``passing_message`` and ``failing_message``
    (:func:`tierii_core.testing.make_message`); optionally ``component_settings`` and
    ``core_settings`` (a :class:`~tierii_core.settings.CoreSettings`, e.g. with
    ``sender_address`` set).
    """

    kind = ComplianceRule
    kind_key = "rule"

    @pytest.fixture
    def core_settings(self) -> Any:
        return CoreSettings()

    @pytest.fixture
    def passing_contact(self) -> Any:
        return _needed("passing_contact", "a contact the rule accepts (rules with check_contact)")

    @pytest.fixture
    def failing_contact(self) -> Any:
        return _needed("failing_contact", "a contact the rule excludes (rules with check_contact)")

    @pytest.fixture
    def passing_message(self) -> Any:
        return _needed("passing_message", "a message the rule accepts (rules with check_message)")

    @pytest.fixture
    def failing_message(self) -> Any:
        return _needed("failing_message", "a message the rule refuses (rules with check_message)")

    @pytest.fixture
    def rule(
        self, component_class: type[ComplianceRule], component_settings: Any, core_settings: Any
    ) -> ComplianceRule:
        return component_class(component_settings, core_settings)

    def _answers(self, rule: ComplianceRule, request: pytest.FixtureRequest, outcome: str) -> dict[str, Any]:
        """Each implemented check's answer for the ``passing`` or ``failing`` record."""
        return {
            check: getattr(rule, check)(request.getfixturevalue(f"{outcome}_{CHECKS[check]}"))
            for check in implemented(type(rule))
        }

    def test_checks_something(self, component_class: type[ComplianceRule]) -> None:
        assert implemented(component_class), (
            f"{component_class.__name__} overrides neither check_contact nor check_message"
        )

    def test_declares_marketing_and_opt_in(self, component_class: type[ComplianceRule]) -> None:
        assert isinstance(component_class.marketing, bool) and isinstance(component_class.opt_in, bool)

    def test_holds_for_a_compliant_record(self, rule: ComplianceRule, request: pytest.FixtureRequest) -> None:
        for check, answer in self._answers(rule, request, "passing").items():
            assert answer is None, f"{check}: the rule holds, so it must return None, not {answer!r}"

    def test_names_the_reason_when_broken(self, rule: ComplianceRule, request: pytest.FixtureRequest) -> None:
        for check, answer in self._answers(rule, request, "failing").items():
            assert isinstance(answer, str) and answer.strip(), f"{check}: return the reason, not {answer!r}"
            assert "\n" not in answer, f"{check}: {answer!r}: a reason is one line (the summary shows it)"

    def test_same_record_same_answer(self, rule: ComplianceRule, request: pytest.FixtureRequest) -> None:
        assert self._answers(rule, request, "failing") == self._answers(rule, request, "failing")
