"""``cannabis-auto``: each recipient checked against the pack of their store's state.

One run can then send a multi-state campaign for a chain. The pack of a state is the pack
that covers that state alone (``states = ["CA"]``); a pack of your own for a state
(``TIERII_CANNABIS_PACK_DIR``) takes the place of the shipped one. A store in a state without
such a pack has its recipients excluded, with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from tierii_cannabis.rules import PackRule
from tierii_cannabis.stores import StoreBook
from tierii_core.components import ComplianceRule
from tierii_core.errors import ConfigurationError, ContactError, PluginError
from tierii_core.models import Contact, Message

NAME = "cannabis-auto"


class AutoRule(ComplianceRule):
    """Each recipient checked against the pack of their store's state (needs a stores file)."""

    name = NAME
    opt_in = True
    marketing = False  # decided per check by the state packs
    packs: ClassVar[dict[str, type[PackRule]]]

    def __init__(
        self, settings: Any, core: Any, *, today: date | None = None, book: StoreBook | None = None
    ) -> None:
        super().__init__(settings, core)
        if book is None:
            from tierii_cannabis.plugin import store_book

            book = store_book()
        if not book.chain:
            raise ConfigurationError(
                f"--rules {NAME} checks each recipient against their store's state: set "
                "TIERII_CANNABIS_STORES_FILE (or name the state's pack, e.g. --rules cannabis-ca)"
            )
        self.book = book
        states = {store.state for store in book.stores.values()}
        self.rules = {
            state: self.packs[state](self.packs[state].Settings(), core, today=today, book=book)
            for state in sorted(states)
            if state in self.packs
        }

    def _rule(self, contact: Contact) -> tuple[PackRule | None, str | None]:
        try:
            store = self.book.store_of(contact)
        except ContactError:
            return None, None  # fails when its message is built, with its line
        rule = self.rules.get(store.state)
        if rule is None:
            known = ", ".join(sorted(self.packs))
            return None, (
                f"no pack for {store.state}: {store.describe()} is in a state without a rule pack "
                f"(packs for {known}); send its recipients under a pack of your own"
            )
        return rule, None

    def check_contact(self, contact: Contact) -> str | None:
        rule, reason = self._rule(contact)
        if rule is None:
            return reason
        return _tagged(rule.check_contact(contact), rule.name)

    def check_message(self, message: Message) -> str | None:
        rule, _ = self._rule(message.contact)
        if rule is None:
            return None  # excluded or failed before rendering
        return _tagged(rule.check_message(message), rule.name)

    def manual_checks(self) -> Sequence[str]:
        return tuple(f"{rule.name}: {item}" for rule in self.rules.values() for item in rule.manual_checks())


def _tagged(reason: str | None, pack: str) -> str | None:
    """``under 21 (cannabis-ca): born ...``: the category keeps its place for the summary's groups."""
    if reason is None:
        return None
    category, _, rest = reason.partition(":")
    return f"{category} ({pack}):{rest}"


@functools.lru_cache(maxsize=16)  # the same packs give the same class, as each pack's rule is
def auto_rule(rules: tuple[type[ComplianceRule], ...]) -> type[AutoRule]:
    """The ``cannabis-auto`` rule over ``rules``: the last pack for a single state wins (yours
    come after the shipped ones); two of your own packs for one state are an error."""
    packs: dict[str, type[PackRule]] = {}
    own: dict[str, str] = {}
    for rule in rules:
        if not (isinstance(rule, type) and issubclass(rule, PackRule)) or len(rule.pack.states) != 1:
            continue
        (state,) = rule.pack.states
        if rule.pack.origin.startswith("tierii_cannabis/packs/"):
            packs.setdefault(state, rule)
            continue
        if state in own:
            raise PluginError(
                f"{rule.pack.origin}: {NAME} would use two packs of your own for {state}: "
                f"{own[state]} and {rule.name} (keep one for the state, or give one two states)"
            )
        own[state] = rule.name
        packs[state] = rule
    states = " ".join(sorted(packs))
    doc = f"Each recipient checked against the pack of their store's state ({states}); needs a stores file."
    return type("CannabisAutoRule", (AutoRule,), {"packs": packs, "__module__": __name__, "__doc__": doc})
