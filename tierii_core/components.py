"""Base classes for the components plugins register.

Each registration hook returns a list of classes derived from these. A component class has
a ``name`` (its configuration key: ``TIERII_<NAME>_<FIELD>`` fills its nested ``Settings``)
and a one-line docstring that ``tierii plugins`` shows. The core instantiates them; plugins
never construct each other's components.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from attrs import frozen

from tierii_core.models import (
    Address,
    CheckStep,
    Contact,
    Credentials,
    Message,
    Outcome,
    Rejected,
    SourceRecord,
)


@frozen
class NoSettings:
    """The settings of a component that has none."""


class Component:
    """What every component has: a name and a nested frozen attrs ``Settings`` class."""

    #: the configuration key: lowercase, unique among the components of its kind
    name: ClassVar[str]
    #: a frozen attrs class, filled from TIERII_<NAME>_<FIELD> (every field with a default and a help)
    Settings: ClassVar[type] = NoSettings

    @classmethod
    def describe(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


class _Claiming(Component):
    #: glob patterns (case-insensitive) of the locations or files this component handles
    patterns: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def claims(cls, location: str) -> bool:
        lowered = location.lower()
        return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in cls.patterns)


class ContactSource(_Claiming):
    """Streams records from a location (a file path, a database URL...).

    Iterating yields a :class:`SourceRecord` (its fields and origin) for each record read,
    and :class:`Rejected` for a record that cannot be read at all (undecodable bytes, a
    malformed line), each with its origin and a code (``UNREADABLE`` from
    ``tierii_core.contacts``: status and reports group by it), so that the run reports it
    and goes on. The core
    checks, normalises and de-duplicates the addresses, the same way for every source.
    Sources must stream: never hold the whole list in memory. Raise
    :class:`~tierii_core.errors.SourceError` when nothing can be read at all.

    Sources written before ``SourceRecord`` existed yield :class:`Contact`: they keep
    working, and the core checks their addresses all the same.
    """

    def __init__(self, location: str, settings: Any) -> None:
        self.location = location
        self.settings = settings

    def validate(self) -> None:
        """Check, before anything is sent, that the location can be read (file exists, header
        has an email column...); raise ``SourceError`` if not. Called once by the core."""

    #: records narrow() kept from being read (counted as "not in segment")
    left_out: int = 0

    def estimate_count(self) -> int | None:
        """A cheap estimate of the number of records, for progress and ETA; None if unknown.

        Called when the run starts (after the opening check has read a few records) and
        again as it goes: an estimate may sharpen as the records are read. Never read the
        source a second time for it (a send reads it once: it may be a pipe)."""
        return None

    def narrow(self, segment: Any) -> None:
        """Optional: apply what it can of a ``--where`` segment
        (:class:`tierii_core.segments.Segment`) where the records are read, such as a database
        query's WHERE. The core still checks every record it gets, so a source may leave out
        fewer records than the segment would, never more. Add the records it leaves out to
        :attr:`left_out` once they are known (after iterating)."""

    def __iter__(self) -> Iterator[SourceRecord | Contact | Rejected]:
        raise NotImplementedError


class CompiledTemplate:
    """One compiled template string; ``render`` is called once per contact, so keep it cheap."""

    def render(self, context: Mapping[str, Any]) -> str:
        """Render for one contact; raise :class:`~tierii_core.errors.MissingVariable` for a gap."""
        raise NotImplementedError


class TemplateEngine(_Claiming):
    """Compiles template text. The core splits a template file into headers and body and
    compiles each piece through the engine that claims the file."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def compile(self, source: str, *, origin: str, escape_html: bool) -> CompiledTemplate:
        """Compile ``source`` (from ``origin``, ``file:line``); escape values only if ``escape_html``.

        Raise :class:`~tierii_core.errors.TemplateError` naming ``origin`` on a syntax error.
        """
        raise NotImplementedError


class DeliveryProvider(Component):
    """Delivers messages: an SMTP relay, an HTTP API, a local Maildir...

    The core opens the provider once per run (``with provider:``), calls :meth:`send` with
    batches of at most ``max_batch`` messages, and closes it. ``send`` returns one
    :class:`Outcome` per message (in any order, matched by ``email``): sent, permanent or
    transient failure, or unknown when the answer was lost after the request went out.
    Raise :class:`~tierii_core.errors.FatalProviderError` when nothing can be sent (bad
    credentials): the run stops and nothing the provider did not accept is recorded as sent.
    ``send`` may be called from several worker threads at once (``--concurrency``).
    """

    #: the auto-selection order among configured providers: highest first
    priority: ClassVar[int] = 0
    #: how many messages one ``send`` call takes
    max_batch: ClassVar[int] = 1
    #: provider calls a minute the service allows, which the core never exceeds (None = none)
    max_per_minute: ClassVar[float | None] = None
    #: provider calls allowed in this run by the service's daily quota (None = no quota);
    #: a provider may set it per instance in ``open()`` from what the service says is left
    max_per_day: ClassVar[int | None] = None
    #: True when the service DKIM-signs every message with the customer's verified domain
    #: itself (MailerSend, SES, Azure): TierII then does not need a key of its own to send
    #: authenticated marketing mail through it
    signs_for_sender: ClassVar[bool] = False
    #: True when the service puts its own RFC 8058 List-Unsubscribe (and -Post) header on every
    #: message instead of TierII's (MailerSend on plans without custom headers); may be set per
    #: instance in ``__init__``. The one-click-unsubscribe rule then accepts the message.
    adds_list_unsubscribe: ClassVar[bool] = False
    #: True when the provider hands over the bytes of :meth:`message_bytes` (SMTP, a Maildir):
    #: they carry TierII's own DKIM signature when ``TIERII_DKIM_*`` is configured
    dkim_signs: ClassVar[bool] = False
    #: False for a provider that only writes messages locally (the outbox): a receiver never
    #: sees them, so the sender-authentication rule does not apply to it
    delivers: ClassVar[bool] = True
    #: the core's DKIM signer (:class:`tierii_core.dkim.DkimSigner`), set before :meth:`open`
    #: on providers with ``dkim_signs`` when a key is configured; None otherwise
    signer: Any = None

    def __init__(self, settings: Any, credentials: Credentials | None) -> None:
        self.settings = settings
        self.credentials = credentials

    @classmethod
    def is_configured(cls, settings: Any) -> bool:
        """Whether the settings are enough to use this provider (for ``TIERII_PROVIDER=auto``)."""
        return False

    def open(self) -> None:
        """Connect, log in, warm up. Raise ``FatalProviderError`` if that cannot work."""

    def close(self) -> None:
        """Release connections; called once, even after an error."""

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        raise NotImplementedError

    def interrupt(self) -> None:
        """The run must stop now (a second Ctrl-C is near): unblock any ``send`` waiting on the
        network, e.g. by shutting its sockets down. Called from another thread; ``send`` then
        returns at once, a message possibly accepted as unknown, the others as transient."""

    def message_bytes(self, message: Message) -> bytes:
        """The message as RFC 5322 bytes, DKIM-signed when the core gave this provider a signer.

        Providers that send serialized messages call this rather than ``message.as_bytes()``
        (and set ``dkim_signs = True``); it is safe to call from several threads at once.
        """
        data = message.as_bytes()
        return data if self.signer is None else self.signer.sign(data, crlf=True)  # serialize: CRLF only

    def check(self) -> Iterator[CheckStep]:
        """``tierii check``: try the connection step by step, yielding each step's result."""
        yield CheckStep("configuration", True, "nothing to check for this provider")

    def __enter__(self) -> DeliveryProvider:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ComplianceRule(Component):
    """A rule checked before anything is sent.

    :meth:`check_contact` runs on each contact before rendering: a reason excludes that
    contact (recorded in the journal as excluded, with the reason). :meth:`check_message`
    runs on each rendered message: the core first renders the opening messages of the run
    and checks them before any message leaves, so a template that breaks a rule is refused
    (exit 2, naming the rule and the template); a later message that breaks one (a section
    only some contacts see) fails that recipient. Return None when the rule holds, else the
    reason, citing its legal source where one exists.

    ``opt_in`` rules run only when named in ``--rules``/``TIERII_RULES`` (rule packs such as
    ``cannabis-ca``); the others always run. ``marketing`` rules are off for transactional
    mail (``--transactional``). Rules get their own settings and the core's
    (``TIERII_SENDER_ADDRESS``, ``TIERII_AD_NOTICE``, the unsubscribe settings...). The values
    a message was rendered with, including those a plugin supplied for its recipient (a
    store's address), are in ``message.variables``.

    After the run, :meth:`notes` and :meth:`manual_checks` feed the summary.
    """

    #: a marketing rule: off for transactional mail (--transactional)
    marketing: ClassVar[bool] = True
    #: runs only when named in --rules / TIERII_RULES (a rule pack)
    opt_in: ClassVar[bool] = False
    #: set by the core once the run's providers are chosen: True when every one of them adds
    #: its own one-click List-Unsubscribe header (``DeliveryProvider.adds_list_unsubscribe``)
    provider_adds_list_unsubscribe: bool = False

    def __init__(self, settings: Any, core: Any) -> None:
        self.settings = settings
        self.core = core

    def check_contact(self, contact: Contact) -> str | None:
        return None

    def check_message(self, message: Message) -> str | None:
        return None

    def check_providers(self, providers: Sequence[DeliveryProvider]) -> str | None:
        """Called once before sending with the provider chain (their DKIM signers attached):
        a reason refuses the whole run (exit 2). The ``authenticated`` rule uses it."""
        return None

    def notes(self) -> Sequence[str]:
        """What this rule decided for the run as a whole, one line each, for the summary
        (``ad notice: waived: every recipient gave consent``). Called once, after the run."""
        return ()

    def manual_checks(self) -> Sequence[str]:
        """What the rule cannot check from the text and a person must review (images,
        placement, audience data), one line each; ``tierii send --dry-run`` lists them."""
        return ()


class ContactVariables:
    """Template variables, and optionally the sender, for each recipient, from a plugin.

    Returned by the ``tierii_template_variables`` hook once per run; the core then calls
    :meth:`variables` (and :meth:`sender` when :attr:`supplies_sender`) once per recipient,
    before rendering. Keep both cheap: a dictionary lookup, no I/O (load files in the hook).
    The variables override the contact's fields of the same name, are visible to the
    templates and to the rules (``message.variables``). Raise
    :class:`~tierii_core.errors.ContactError` to fail one recipient with a reason (an unknown
    store); the run goes on.
    """

    #: True when :meth:`sender` answers: the template then needs no ``From:`` line
    supplies_sender: bool = False

    def variables(self, contact: Contact) -> Mapping[str, Any]:
        """The variables for ``contact``'s message."""
        return {}

    def sender(self, contact: Contact) -> Address | None:
        """The From address for ``contact``; a template's ``From:`` or ``--from`` wins."""
        return None

    def unset(self) -> Mapping[str, str]:
        """Variables this plugin would supply but has no value for, each with the setting that
        fills it: a template that uses one is refused naming the setting."""
        return {}


KINDS: Mapping[str, type[Component]] = {
    "source": ContactSource,
    "engine": TemplateEngine,
    "provider": DeliveryProvider,
    "rule": ComplianceRule,
}
