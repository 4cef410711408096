"""The plugin authors' testing kit: a pytest plugin with fixtures, and contract test suites.

Enable the fixtures in your plugin's top-level ``tests/conftest.py``::

    pytest_plugins = ["tierii_core.testing"]

(pytest only honours ``pytest_plugins`` in the conftest.py at the top of a test run; in a
repository holding several plugins, import the fixtures you use into each conftest instead:
``from tierii_core.testing.fixtures import smtp_sink``.)

Fixtures:

- ``tierii_environment``: no ``TIERII_*`` variable from the machine, and an empty working
  directory (so no stray ``.env`` is read); returns pytest's ``monkeypatch`` to set variables.
- ``tierii_state_dir``: an empty directory, also set as ``TIERII_STATE_DIR``.
- ``tierii_plugin_manager``: a plugin manager with the default plugins only (no installed
  plugin is loaded); register yours with ``pm.register(module)``.
- ``smtp_sink``: an SMTP server on 127.0.0.1 (aiosmtpd, in-process, on a free port) that
  records every message it accepts; see :class:`~tierii_core.testing.smtp_sink.SmtpSink`.

Contract suites, one per component kind (and ``CredentialsPluginContract`` for a plugin
answering ``tierii_resolve_credentials``): subclass the one for your component in a test
module, provide the fixtures it asks for, and pytest runs every check the core relies on::

    from tierii_core.testing import ContactSourceContract

    class TestMySourceContract(ContactSourceContract):
        @pytest.fixture
        def component_class(self):
            return MySource
        ...

See ``docs/testing.md`` for each suite's fixtures.
"""

from __future__ import annotations

import pytest

# better assertion messages in the contract suites, wherever they are imported from
pytest.register_assert_rewrite("tierii_core.testing.contracts")

from tierii_core.testing.contracts import (  # noqa: E402
    ComplianceRuleContract,
    ContactSourceContract,
    CredentialsPluginContract,
    DeliveryProviderContract,
    TemplateEngineContract,
)
from tierii_core.testing.fixtures import (  # noqa: E402
    smtp_sink,
    tierii_environment,
    tierii_plugin_manager,
    tierii_state_dir,
)
from tierii_core.testing.messages import make_contact, make_message  # noqa: E402
from tierii_core.testing.smtp_sink import ReceivedMessage, SmtpSink  # noqa: E402

__all__ = [
    "ComplianceRuleContract",
    "ContactSourceContract",
    "CredentialsPluginContract",
    "DeliveryProviderContract",
    "ReceivedMessage",
    "SmtpSink",
    "TemplateEngineContract",
    "make_contact",
    "make_message",
    "smtp_sink",
    "tierii_environment",
    "tierii_plugin_manager",
    "tierii_state_dir",
]
