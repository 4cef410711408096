"""Errors that stop a command, each with its documented exit code (README: exit codes).

Per-recipient problems are never exceptions: they become :class:`~tierii_core.models.Outcome`
values and the run goes on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SOME_FAILED = 1
    USAGE = 2
    STOPPED = 3


class TierIIError(Exception):
    """Base class: ``str(error)`` is the message shown to the user."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigurationError(TierIIError):
    """A setting, option or input file is wrong; nothing was sent (exit 2)."""


class SettingsError(ConfigurationError):
    """One or more ``TIERII_*`` settings are invalid; the message names each variable."""


class PluginError(ConfigurationError):
    """A plugin could not be loaded or registered, or two plugins clash (exit 2)."""


class SourceError(ConfigurationError):
    """The contact source cannot be read at all (missing file, no email column...)."""


class TemplateError(ConfigurationError):
    """A template file cannot be read or parsed; names the file and line."""


class FatalProviderError(TierIIError):
    """The provider cannot send anything (bad credentials, account paused): stop, exit 3.

    Raised by :meth:`DeliveryProvider.send`; whatever the provider did not accept stays
    unsent and a re-run resumes.
    """

    exit_code = ExitCode.STOPPED


class RunStopped(TierIIError):
    """The run stopped early but safely (interrupted, circuit open): exit 3."""

    exit_code = ExitCode.STOPPED


class ContactError(Exception):
    """This one contact cannot get the campaign (raised by a plugin's
    :class:`~tierii_core.components.ContactVariables`): the recipient fails with the message
    as its reason, and the run goes on."""


class MissingVariable(Exception):
    """A template variable has no value for a contact: that contact fails, the run goes on."""

    def __init__(self, variable: str, origin: str = "") -> None:
        self.variable = variable
        self.origin = origin
        where = f" (used at {origin})" if origin else ""
        super().__init__(f"no value for template variable '{variable}'{where}")
