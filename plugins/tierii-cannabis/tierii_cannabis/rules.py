"""The checks of a rule pack, run by the core on each contact and each rendered message.

One :class:`PackRule` subclass per pack (made by :func:`rule_class`), named after the pack.
Which checks apply to transactional mail (``--transactional``) is decided here, per check,
so the class is not a ``marketing`` rule as a whole:

- always: age (no cannabis business may write to a minor, whatever the message), and the
  banned claims (a receipt that promises a cure or a giveaway is advertising all the same);
- marketing mail only: the recipient's state (a receipt may go to a visitor from another
  state), consent to marketing, the store's sender, the licence number and the required
  texts (advertising requirements).

With a stores file (:mod:`tierii_cannabis.stores`) each check uses the recipient's store: its
licence number, its From identity, and its licence type for the medical age.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

from tierii_cannabis.ages import age_on
from tierii_cannabis.fields import consent_problem, is_yes, lookup, parse_birthdate, parse_timestamp, text_of
from tierii_cannabis.model import Pack, for_claims
from tierii_cannabis.scan import ClaimScanner
from tierii_cannabis.states import USPS_CODES
from tierii_cannabis.stores import Store, StoreBook
from tierii_cannabis.text import visible_parts
from tierii_core.components import ComplianceRule
from tierii_core.errors import ContactError
from tierii_core.models import Contact, Message

# the contact fields the packs read (documented in docs/compliance/cannabis.md)
BIRTHDATE = "birthdate"
AGE_VERIFIED_AT = "age_verified_at"
STATE = "state"
CONSENT = "consent"
MEDICAL = "medical"
EXCERPT = 60


class PackRule(ComplianceRule):
    """A cannabis rule pack."""

    pack: ClassVar[Pack]
    scanner: ClassVar[ClaimScanner]
    opt_in = True
    marketing = False  # decided per check: see the module docstring

    def __init__(
        self, settings: Any, core: Any, *, today: date | None = None, book: StoreBook | None = None
    ) -> None:
        super().__init__(settings, core)
        self._today = today
        self.transactional = bool(getattr(core, "transactional", False))
        if book is None:
            from tierii_cannabis.plugin import store_book

            book = store_book()
        self.book = book

    @property
    def today(self) -> date:
        return self._today or date.today()

    # -- recipients ------------------------------------------------------------------------

    def check_contact(self, contact: Contact) -> str | None:
        today = self.today
        try:
            store = self.book.store_of(contact)
        except ContactError:
            store = None  # the contact fails when its message is built, naming its line
        reason = self._age(contact.fields, today, store)
        if reason is not None or self.transactional:
            return reason
        return self._store_state(store) or self._state(contact.fields) or self._consent(contact.fields, today)

    def _store_state(self, store: Store | None) -> str | None:
        if store is None or not store.state or store.state in self.pack.states:
            return None
        return (
            f"store in another state: {store.describe()} is in {store.state}, not {self._states()} "
            "(--rules cannabis-auto checks each store against its own state's pack)"
        )

    def _age(self, fields: Mapping[str, Any], today: date, store: Store | None = None) -> str | None:
        """The minimum is ``medical_min_age`` only for a medical licensee writing to a recipient
        flagged medical: a retail licensee never writes to anyone under ``min_age``."""
        pack = self.pack
        flagged = pack.medical_min_age < pack.min_age and is_yes(lookup(fields, MEDICAL))
        medical = flagged and store is not None and store.serves_medical
        minimum = pack.medical_min_age if medical else pack.min_age
        source = pack.sources["medical_age"] if medical else pack.sources["age"]
        who = f"under {minimum}" + (" (medical)" if medical else "")
        born = parse_birthdate(lookup(fields, BIRTHDATE), today)
        if born.value is not None:
            age = age_on(born.value, today)
            if age < minimum:
                why = ""
                if flagged and not medical and age >= pack.medical_min_age:
                    holder = store.describe() if store is not None else "the sender"
                    why = f"; flagged medical, but {holder} is not a medical licence"
                return f"{who}: born {born.value.isoformat()}, {age} on {today.isoformat()}{why} ({source})"
            return None
        verified = parse_timestamp(lookup(fields, AGE_VERIFIED_AT), today, AGE_VERIFIED_AT)
        if verified.value is not None:  # the verification says the recipient is old enough
            return None
        return f"age cannot be verified: {born.problem} and {verified.problem} ({source})"

    def _state(self, fields: Mapping[str, Any]) -> str | None:
        pack = self.pack
        given = text_of(lookup(fields, STATE))
        state = given.upper()
        if not state:
            return f"no state: the recipient must be in {self._states()} ({pack.sources['state']})"
        if state not in USPS_CODES:
            return f"invalid state: {given!r} is not a USPS state code such as CA ({pack.sources['state']})"
        if state not in pack.states:
            return f"out of state: {state} is not {self._states()} ({pack.sources['state']})"
        return None

    def _states(self) -> str:
        states = sorted(self.pack.states)
        if len(states) == 1:
            return states[0]
        if len(states) <= 5:
            return "one of " + ", ".join(states)
        return f"one of the pack's {len(states)} states"

    def _consent(self, fields: Mapping[str, Any], today: date) -> str | None:
        if not self.pack.consent_required:
            return None
        problem = consent_problem(lookup(fields, CONSENT), today)
        if problem is None:
            return None
        return f"no consent: {problem} ({self.pack.sources['consent']})"

    # -- messages ---------------------------------------------------------------------------

    def check_message(self, message: Message) -> str | None:
        parts = visible_parts(message)
        if not self.transactional:
            try:
                store = self.book.store_of(message.contact)
            except ContactError as exc:
                return str(exc)
            reason = self._sender(message, store) or self._license(parts, store)
            if reason is not None:
                return reason
        # what claim patterns and `when` words are matched against, worked out once per message
        scanned = {"subject": for_claims(message.subject), **{p: for_claims(t) for p, t in parts.items()}}
        if not self.transactional:
            reason = self._required(parts, scanned)
            if reason is not None:
                return reason
        return self._claims(scanned)

    def _sender(self, message: Message, store: Store) -> str | None:
        """A chain's message comes from its store's own identity, the one its licence is under."""
        if store.sender is None or message.sender.email.casefold() == store.sender.email.casefold():
            return None
        return (
            f"wrong sender: From is {message.sender.email}, but {store.describe()} sends as "
            f"{store.sender.email} (from {store.origin}): remove From: from the template, or write "
            "From: {{store_from}}"
        )

    def _license(self, parts: Mapping[str, str], store: Store) -> str | None:
        pack = self.pack
        if not pack.license_required:
            return None
        source = pack.sources["license"]
        number = store.license_number
        if not number:
            return (
                "licence number not set: set TIERII_CANNABIS_LICENSE_NUMBER (or a stores file, "
                "TIERII_CANNABIS_STORES_FILE) and show it in the template with {{license_number}} "
                f"({source})"
            )
        wanted = number.casefold()
        for part, text in parts.items():
            if wanted not in text.casefold():
                whose = f" ({store.describe()})" if store.id else ""
                return f"licence number missing: the {part} part does not show {number}{whose} ({source})"
        return None

    def _required(self, parts: Mapping[str, str], scanned: Mapping[str, str]) -> str | None:
        for required in self.pack.required:
            trigger = required.trigger(scanned)
            if trigger is None:
                continue
            for part, text in parts.items():
                if not required.found_in(text):
                    shown = f"{required.describe()} ({required.source})"
                    because = f" (the {trigger[0]} mentions {trigger[1]!r})" if trigger[1] else ""
                    return f"required text missing: the {part} part does not show {shown}{because}"
        return None

    def manual_checks(self) -> Sequence[str]:
        return tuple(f"{m.text} ({m.source})" for m in self.pack.manual)

    def _claims(self, scanned: Mapping[str, str]) -> str | None:
        for part, text in scanned.items():
            found = self.scanner.first(text)
            if found is not None:
                claim, matched = found
                return f"banned claim in the {part}: {_excerpt(matched)!r}: {claim.reason} ({claim.source})"
        return None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def rule_class(pack: Pack) -> type[PackRule]:
    """The compliance rule component for ``pack``: named after it, described by it."""
    class_name = "".join(word.capitalize() for word in pack.name.split("-")) + "Rule"
    return type(
        class_name,
        (PackRule,),
        {
            "name": pack.name,
            "pack": pack,
            "scanner": ClaimScanner(pack.claims),
            "__doc__": pack.describe(),
            "__module__": __name__,
        },
    )
