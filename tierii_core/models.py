"""Frozen value objects passed between the core and plugins.

They are the vocabulary of the hooks: plugins receive and return these, never the core's
internal state. All are immutable; build a changed copy with ``attrs.evolve``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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

    email: str
    name: str = ""


@frozen
class Contact:
    """One recipient: the normalised address and every field of its record.

    ``fields`` are the template variables (all columns of a CSV row, for example);
    ``origin`` says where the record came from, for messages (``contacts.csv:12``).
    """

    email: str
    fields: Mapping[str, Any] = field(factory=dict, hash=False)
    origin: str = ""

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

    contact: Contact
    sender: Address
    to: Address
    subject: str
    text: str
    message_id: str
    date: datetime
    html: str | None = None
    reply_to: Address | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def as_bytes(self) -> bytes:
        from tierii_core.mime import serialize

        return serialize(self)


class Status(enum.Enum):
    """Where a recipient stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    EXCLUDED = "excluded"
    UNKNOWN = "unknown"


class ErrorKind(enum.Enum):
    """How a provider classifies a failure for one recipient."""

    TRANSIENT = "transient"  # try again later (421/451, 429, 5xx from an API, timeouts)
    PERMANENT = "permanent"  # will never work (550 user unknown, 422 invalid)


@frozen
class Outcome:
    """What happened to one recipient's message in one attempt."""

    email: str
    status: Status
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    kind: ErrorKind | None = None
    retry_after: float | None = None

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
    def unknown(cls, message: Message, provider: str, reason: str) -> Outcome:
        """The provider may or may not have accepted it (answer lost): never resent blindly."""
        return cls(message.contact.email, Status.UNKNOWN, provider, reason=reason)

    @property
    def is_transient(self) -> bool:
        return self.kind is ErrorKind.TRANSIENT


@frozen
class Credentials:
    """What a provider needs to log in, from ``tierii_resolve_credentials``."""

    username: str | None = None
    secret: Secret | None = None
    extra: Mapping[str, Any] = field(factory=dict, hash=False)


@frozen
class RunInfo:
    """The ``run`` argument of the observer hooks: what this run is doing."""

    campaign: str
    source: str  # the contacts' location, credentials masked (postgresql://crm:***@db/crm)
    template: str
    providers: tuple[str, ...]
    dry_run: bool
    started_at: datetime
    total: int | None = None  # an estimate from the source; None when unknown


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

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.unknown

    @property
    def emails_per_minute(self) -> float:
        return self.sent * 60.0 / self.duration if self.duration > 0 else 0.0

    @property
    def error_rate(self) -> float:
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
class Rejected:
    """A source record that cannot be used, and why; reported, counted as excluded."""

    origin: str
    reason: str
    email: str | None = None


@frozen
class CheckStep:
    """One step of ``tierii check``: what was tried, whether it worked, and details."""

    step: str
    ok: bool
    detail: str = ""
