"""Contract test suites: what the core relies on from each kind of component.

Subclass the suite for your component's kind in a test module (its name must start with
``Test``), provide the fixtures it asks for, and every check runs against your component.
"""

from tierii_core.testing.contracts.credentials import CredentialsPluginContract
from tierii_core.testing.contracts.engines import TemplateEngineContract
from tierii_core.testing.contracts.providers import DeliveryProviderContract
from tierii_core.testing.contracts.rules import ComplianceRuleContract
from tierii_core.testing.contracts.sources import ContactSourceContract

__all__ = [
    "ComplianceRuleContract",
    "ContactSourceContract",
    "CredentialsPluginContract",
    "DeliveryProviderContract",
    "TemplateEngineContract",
]
