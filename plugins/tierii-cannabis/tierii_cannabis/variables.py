"""The template variables of each recipient's store: ``{{license_number}}``, ``{{license_type}}``,
and for a chain ``{{store}}``, ``{{store_state}}``, ``{{store_in.XX}}`` (a section for one state),
``{{sender_address}}``, ``{{store_from}}`` and the From identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tierii_cannabis.stores import Store, StoreBook
from tierii_core.components import ContactVariables
from tierii_core.models import Address, Contact


class StoreVariables(ContactVariables):
    def __init__(self, book: StoreBook) -> None:
        self.book = book
        self.supplies_sender = book.chain
        # a store's variables are the same for all its recipients: built once per store
        self._by_store: dict[str, Mapping[str, Any]] = {}

    def variables(self, contact: Contact) -> Mapping[str, Any]:
        store = self.book.store_of(contact)  # ContactError for an unknown store fails the recipient
        found = self._by_store.get(store.id)
        if found is None:
            found = self._by_store[store.id] = _variables(store)
        return found

    def sender(self, contact: Contact) -> Address | None:
        return self.book.store_of(contact).sender

    def unset(self) -> Mapping[str, str]:
        if self.book.single is not None and not self.book.single.license_number:
            return {"license_number": "TIERII_CANNABIS_LICENSE_NUMBER"}
        return {}


def _variables(store: Store) -> Mapping[str, Any]:
    values: dict[str, Any] = {"license_type": store.license_type}
    if store.license_number:
        values["license_number"] = store.license_number
    if store.id:
        # {{#store_in.WA}}...{{/store_in.WA}}: a section only one state's stores show
        values.update(
            store=store.id,
            store_state=store.state,
            store_in={store.state: True},
            sender_address=store.address,
        )
        if store.sender is not None:
            values["store_from"] = (
                f"{store.sender.name} <{store.sender.email}>" if store.sender.name else store.sender.email
            )
    return values
