"""What happens to one record: the only place that decides it, for a send, a dry run, a
preview and the opening check alike.

A record is either excluded (a deliberate policy: suppressed, a recipient rule, a repeated
address), failed before any provider saw it (unreadable, no valid address, a message that
cannot be built or breaks a rule), or a :class:`~tierii_core.models.Message` to deliver.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from tierii_core.components import ComplianceRule
from tierii_core.compose import ComposeError, Composer
from tierii_core.contacts import REPEATED
from tierii_core.errors import ConfigurationError
from tierii_core.models import Contact, ErrorKind, Message, Outcome, Rejected, Status
from tierii_core.options import SendOptions

#: the code of an exclusion for a suppressed address (the other codes are in contacts.py)
SUPPRESSED = "suppressed"


@frozen
class Decision:
    """A message to deliver, or the outcome already decided for a record."""

    message: Message | None = None
    outcome: Outcome | None = None
    origin: str = ""


class Decider:
    """Applies the recipient rules, builds the message and applies the message rules."""

    def __init__(self, composer: Composer, rules: list[ComplianceRule], options: SendOptions) -> None:
        self.composer = composer
        self.rules = rules
        self.options = options
        #: messages the opening check built, handed out again instead of rendering twice
        self._built: dict[int, Message] = {}

    def decide(self, record: Contact | Rejected, suppressed: bool = False) -> Decision:
        if isinstance(record, Rejected):
            email = record.email or ""
            if record.is_repeat:
                outcome = Outcome(email, Status.EXCLUDED, reason=record.reason, code=REPEATED)
            else:  # unreadable, or no valid address: a recipient who did not get the campaign
                code = record.code or None  # sources from before codes: grouped by their text
                kind = ErrorKind.PERMANENT
                outcome = Outcome(email, Status.FAILED, reason=record.reason, kind=kind, code=code)
            return Decision(outcome=outcome, origin=record.origin)
        if suppressed:
            outcome = Outcome(record.email, Status.EXCLUDED, reason=SUPPRESSED, code=SUPPRESSED)
            return Decision(outcome=outcome, origin=record.origin)
        excluded = self.excluded(record)
        if excluded is not None:
            return Decision(
                outcome=Outcome(record.email, Status.EXCLUDED, reason=excluded), origin=record.origin
            )
        message = self._built.pop(id(record), None)
        if message is None:
            try:
                message = self.composer.compose(record)
            except ComposeError as exc:
                outcome = Outcome(record.email, Status.FAILED, reason=str(exc), kind=ErrorKind.MESSAGE)
                return Decision(outcome=outcome, origin=record.origin)
            broken = self.broken_rule(message)
            if broken is not None:
                outcome = Outcome(
                    record.email, Status.FAILED, reason=": ".join(broken), kind=ErrorKind.MESSAGE
                )
                return Decision(outcome=outcome, origin=record.origin)
        return Decision(message=message, origin=record.origin)

    def excluded(self, contact: Contact) -> str | None:
        """Why a contact must not get this campaign (a recipient rule), or None."""
        for rule in self.rules:
            reason = rule.check_contact(contact)
            if reason is not None:
                return f"{rule.name}: {reason}"
        return None

    def broken_rule(self, message: Message) -> tuple[str, str] | None:
        """The first message rule the message breaks, and why."""
        for rule in self.rules:
            reason = rule.check_message(message)
            if reason is not None:
                return rule.name, reason
        return None

    def forget_built(self) -> None:
        """Build the opening messages again when they are sent (after a scheduled wait: their
        Date header must be the sending time, not the time they were checked)."""
        self._built.clear()

    # -- the opening check --------------------------------------------------------------------

    def check_opening(self, records: Iterable[Contact | Rejected], how_many: int = 1) -> None:
        """Build the first messages as they will leave and run the message rules on them.

        What is wrong for everyone is refused here, before anything is sent (exit 2): a
        template variable that no column and no setting provides, a From or Reply-To that
        cannot parse, a header the providers cannot carry, a template a rule refuses. The
        messages built here are the ones sent: they are not rendered again.
        """
        checked = 0
        unbuildable: tuple[ComposeError, str] | None = None
        for record in records:
            if isinstance(record, Rejected) or self.excluded(record) is not None:
                continue
            try:
                message = self.composer.compose(record)
            except ComposeError as exc:
                self._refuse_unprovided_variable(exc, record)
                if exc.variable is None and unbuildable is None:
                    unbuildable = (exc, record.origin)
                continue
            self._refuse_uncarriable(message, record)
            broken = self.broken_rule(message)
            if broken is not None:
                rule, reason = broken
                html = f" with {self.options.html}" if self.options.html else ""
                raise ConfigurationError(
                    f"rule {rule} refuses template {self.options.template}{html}: {reason} "
                    f"(first checked on {record.origin})"
                )
            self._built[id(record)] = message
            checked += 1
            if checked >= how_many:
                return
        if checked == 0 and unbuildable is not None:
            exc, origin = unbuildable
            raise ConfigurationError(f"template {self.options.template}: {exc} (first at {origin})")

    def _refuse_uncarriable(self, message: Message, record: Contact) -> None:
        try:
            message.as_bytes()
        except ValueError as exc:
            raise ConfigurationError(
                f"the message for {record.origin} cannot be sent as built: {exc} "
                f"(template {self.options.template})"
            ) from None

    def _refuse_unprovided_variable(self, exc: ComposeError, contact: Contact) -> None:
        """A variable the settings leave empty, or that no column of the source has, is the
        template's problem (exit 2), not each contact's."""
        if exc.variable is None:
            return
        name = exc.variable.split(".")[0]
        if name in self.composer.unset_vars:
            raise ConfigurationError(
                f"template {self.options.template} uses {{{{{exc.variable}}}}}, but "
                f"{self.composer.unset_vars[name]} is not set"
            )
        if name in contact.fields:
            return  # a column this contact has no value in: the contact's own gap
        columns = sorted(contact.fields)
        import difflib  # only a misspelt name needs it

        close = difflib.get_close_matches(name, columns, n=1)
        hint = f"; did you mean {{{{{close[0]}}}}}?" if close else ""
        raise ConfigurationError(
            f"template {self.options.template} uses {{{{{exc.variable}}}}}, but no column of "
            f"{self.options.contacts} and no setting provides it (columns: {', '.join(columns)}){hint}"
        )
