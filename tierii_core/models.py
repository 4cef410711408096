"""Frozen value objects passed between the core and plugins.

They are the vocabulary of the hooks: plugins receive and return these, never the core's
internal state. All are immutable; build a changed copy with ``attrs.evolve``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from attrs import field, frozen


class Secret:
    """A string that never shows itself: ``str()``/``repr()`` give a mask, ``.reveal()`` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __str__(self) -> str:
        return "********" if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"


@frozen
class Address:
    """An email address with an optional display name (unencoded Unicode)."""

    email: str  # the address
    name: str = ""  # the display name, plain text ("" for none)


@frozen
class Contact:
    """One recipient: the normalised address and every field of its record.

    ``fields`` are the template variables (all columns of a CSV row, for example);
    ``origin`` says where the record came from, for messages (``contacts.csv:12``).
    """

    email: str  # normalised: the domain lower-case ASCII (IDNA), the local part as written
    fields: Mapping[str, Any] = field(
        factory=dict, hash=False
    )  # every field, by its name: the template variables
    origin: str = ""  # where the record is, for messages: "contacts.csv:12"

    @property
    def name(self) -> str:
        """The display name: a ``name`` field, else ``first_name`` + ``last_name``."""
        name = self.fields.get("name")
        if name:
            return str(name)
        parts = [self.fields.get("first_name"), self.fields.get("last_name")]
        return " ".join(str(p) for p in parts if p)


@frozen
class Message:
    """A rendered message for one contact, ready for a provider.

    Text is plain Unicode; :func:`tierii_core.mime.serialize` (or :meth:`as_bytes`) turns it
    into RFC 5322 bytes. Providers that speak an HTTP API use the fields directly.
    """

    contact: Contact  # the recipient it was rendered for
    sender: Address  # From
    to: Address  # To: the contact's address and display name
    subject: str  # rendered, one line, not encoded
    text: str  # the plain-text body
    message_id: str  # "<...@domain>": the Message-ID header
    date: datetime  # the Date header (timezone-aware)
    html: str | None = None  # the HTML alternative (--html), or None
    reply_to: Address | None = None  # Reply-To, or None
    headers: tuple[tuple[str, str], ...] = ()  # further headers (List-Unsubscribe...), in order
    return_path: str | None = None  # the envelope sender (SMTP MAIL FROM); None: the sender's address
    # what the core and plugins supplied (sender_address, a store's license_number), not the
    # contact's own fields: rules check against them
    variables: Mapping[str, Any] = field(factory=dict, hash=False, eq=False)  # plugin-supplied values

    def as_bytes(self) -> bytes:
        from tierii_core.mime import serialize

        return serialize(self)


class Status(enum.Enum):
    """Where a recipient stands."""

    PENDING = "pending"  # not sent yet: a run's unsent when it stopped (the next run sends them)
    SENT = "sent"  # the provider accepted it
    FAILED = "failed"  # not delivered: see the outcome's kind and reason
    EXCLUDED = "excluded"  # left out on purpose: suppressed, a rule, a repeated address
    UNKNOWN = "unknown"  # may have been accepted (the answer was lost): never resent blindly
    WOULD_SEND = "would-send"  # a dry run's message, rendered and checked (earlier releases said PENDING)


#: how ``tierii status``, the report and the summary name the groups of reasons that have a
#: code (:attr:`Outcome.code`); a code not listed here is shown as it is
CODE_LABELS: dict[str, str] = {
    "empty-address": "empty email address",
    "invalid-address": "invalid email address",
    "repeated-address": "repeated address",
    "unreadable": "unreadable record",
    "suppressed": "suppressed",
}

#: the states a recipient can have in the journal (a dry run records nothing: never WOULD_SEND)
JOURNAL_STATES: tuple[Status, ...] = (
    Status.PENDING,
    Status.SENT,
    Status.FAILED,
    Status.EXCLUDED,
    Status.UNKNOWN,
)


class ErrorKind(enum.Enum):
    """Whose problem a failure is, which decides whether the next run tries again.

    Only ``PERMANENT`` is final (the recipient's own problem: their address refused or
    invalid); ``--retry-failed`` retries those too. The others are retried by the next run of
    the campaign without any flag: the user fixes the template or settings, or the outage ends.
    """

    TRANSIENT = "transient"  # try again later (421/451, 429, 5xx from an API, timeouts)
    PERMANENT = "permanent"  # the recipient's: will never work (550 user unknown, invalid address)
    MESSAGE = "message"  # the message as built (template, settings, content): fix it, re-run

    @property
    def is_final(self) -> bool:
        return self is ErrorKind.PERMANENT


@frozen
class Outcome:
    """What happened to one recipient's message in one attempt."""

    email: str  # the recipient (the contact's normalised address); matches the message's
    status: Status
    provider: str | None = None  # the provider's name, when one handled it
    provider_message_id: str | None = None  # the id the provider gave, when it gave one
    reason: str | None = None  # one line, for failed, excluded and unknown outcomes
    kind: ErrorKind | None = None  # for failed outcomes: transient or permanent
    retry_after: float | None = None  # seconds the provider asked to wait (Retry-After)
    code: str | None = None  # the reason's kind, for grouping: a Rejected's code, "suppressed"

    @classmethod
    def sent(cls, message: Message, provider: str, provider_message_id: str | None = None) -> Outcome:
        return cls(message.contact.email, Status.SENT, provider, provider_message_id)

    @classmethod
    def permanent(cls, message: Message, provider: str, reason: str) -> Outcome:
        return cls(message.contact.email, Status.FAILED, provider, reason=reason, kind=ErrorKind.PERMANENT)

    @classmethod
    def transient(
        cls, message: Message, provider: str, reason: str, retry_after: float | None = None
    ) -> Outcome:
        return cls(
            message.contact.email,
            Status.FAILED,
            provider,
            reason=reason,
            kind=ErrorKind.TRANSIENT,
            retry_after=retry_after,
        )

    @classmethod
    def unsendable(cls, message: Message, provider: str, reason: str) -> Outcome:
        """The message cannot go as built (a header the provider cannot carry, content refused):
        not the recipient's fault, so the next run tries again once the template is fixed."""
        return cls(message.contact.email, Status.FAILED, provider, reason=reason, kind=ErrorKind.MESSAGE)

    @classmethod
    def unknown(cls, message: Message, provider: str, reason: str) -> Outcome:
        """The provider may or may not have accepted it (answer lost): never resent blindly."""
        return cls(message.contact.email, Status.UNKNOWN, provider, reason=reason)

    @property
    def is_transient(self) -> bool:
        return self.kind is ErrorKind.TRANSIENT


@frozen
class Credentials:
    """What a provider needs to log in, from ``tierii_resolve_credentials``."""

    username: str | None = None  # the login name, if the service has one
    secret: Secret | None = None  # the password or API token
    extra: Mapping[str, Any] = field(factory=dict, hash=False)  # anything else the provider needs
    source: str | None = None  # where they came from ("settings", "keyring"): `tierii check` says it


@frozen
class RunInfo:
    """The ``run`` argument of the observer hooks: what this run is doing."""

    campaign: str  # the campaign's name (its journal key)
    source: str  # the contacts' location, credentials masked (postgresql://crm:***@db/crm)
    template: str  # the template file, as given
    providers: tuple[str, ...]  # the provider chain, first choice first; () in a dry run
    dry_run: bool  # nothing is sent (--dry-run)
    started_at: datetime  # when the run started (UTC)
    total: int | None = None  # an estimate from the source when the run starts; None when unknown
    #: a fresher estimate of the total, asked as the run goes (the source reads in one pass,
    #: so its estimate sharpens as it reads; exact once it has read everything)
    estimate: Callable[[], int | None] | None = field(default=None, eq=False, repr=False)


@frozen
class RunSummary:
    """Counts at the end of a run, and why it stopped if it stopped early."""

    campaign: str
    sent: int = 0
    failed: int = 0
    excluded: int = 0
    unknown: int = 0
    skipped: int = 0  # already done in an earlier run of the same campaign
    rendered: int = 0  # dry run: messages rendered and checked, not sent
    pending: int = 0  # not yet accepted when the run stopped: a re-run sends them
    duration: float = 0.0
    dry_run: bool = False
    stopped: str | None = None
    excluded_by_reason: Mapping[str, int] = field(factory=dict, hash=False)
    failures: tuple[Outcome, ...] = ()
    rules: tuple[str, ...] = ()  # the compliance rules this run checked
    #: what rules decided for the whole run, one line each (the ad notice required or waived)
    notes: tuple[str, ...] = ()
    #: per rule, what a text check cannot see and a person must review (images, placement...)
    manual_checks: Mapping[str, tuple[str, ...]] = field(factory=dict, hash=False)
    not_in_segment: int = 0  # contacts --where left out: not recipients of this campaign
    #: recipients another process sending the same campaign at the same time claimed first
    #: (that process sends them and counts them; this run neither sent nor skipped them)
    taken: int = 0

    @property
    def attempted(self) -> int:
        """Recipients a message was made for: sent, failed or unknown, and in a dry run the
        ones rendered and checked (which a real run would have sent)."""
        return self.sent + self.failed + self.unknown + self.rendered

    @property
    def emails_per_minute(self) -> float:
        return self.sent * 60.0 / self.duration if self.duration > 0 else 0.0

    @property
    def error_rate(self) -> float:
        """Failures over recipients attempted (excluded and skipped ones are neither)."""
        return self.failed / self.attempted if self.attempted else 0.0

    @property
    def exit_code(self) -> int:
        from tierii_core.errors import ExitCode

        if self.stopped or self.pending:
            return ExitCode.STOPPED
        if self.failed or self.unknown:
            return ExitCode.SOME_FAILED
        return ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=False)
        data["excluded_by_reason"] = dict(self.excluded_by_reason)
        data["notes"] = list(self.notes)
        data["manual_checks"] = {rule: list(items) for rule, items in self.manual_checks.items()}
        data["failures"] = [
            {"email": o.email, "status": o.status.value, "provider": o.provider, "reason": o.reason}
            for o in self.failures
        ]
        data.update(
            emails_per_minute=round(self.emails_per_minute, 1),
            error_rate=round(self.error_rate, 4),
            exit_code=int(self.exit_code),
        )
        return data


@frozen
class SourceRecord:
    """A record as a source read it: every field, and where it came from.

    What a :class:`~tierii_core.components.ContactSource` yields for each readable record.
    The core finds the address (the ``email`` field, any case), checks and normalises it,
    and sets repeated addresses aside, the same way for every source.
    """

    fields: Mapping[str, Any] = field(hash=False)  # every column: the template variables
    origin: str = ""  # where the record is: "contacts.csv:12"


@frozen
class Rejected:
    """A source record that cannot be used, and why.

    A repeated address (``code="repeated-address"``) is excluded: the recipient gets the
    campaign once, from its first record. Any other rejection (unreadable, no valid address)
    is a recipient who did not get the campaign: counted as failed, with its origin.
    """

    origin: str  # where the record is: "contacts.csv:12"
    reason: str  # one line: "invalid email address 'x'"
    email: str | None = None  # the address, when there was one
    code: str = ""  # the kind of rejection: tierii_core.contacts.REPEATED, INVALID... (CODE_LABELS)

    @property
    def is_repeat(self) -> bool:
        # sources written before codes existed say it in words
        return self.code == "repeated-address" or (
            not self.code and self.reason.startswith("repeated address")
        )


@frozen
class CheckStep:
    """One step of ``tierii check``: what was tried, whether it worked, and details."""

    step: str  # what was tried: "connect", "login"...
    ok: bool  # whether it worked
    detail: str = ""  # what happened: the server's answer, the error
