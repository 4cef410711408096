"""The ``outbox`` provider: every message into a local Maildir, no server and no account.

It is the embedded default: what it wrote opens in any mail client (``mutt -f outbox``),
and it lets a new user run a whole campaign on a fresh machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from attrs import field, frozen

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider
from tierii_core.errors import FatalProviderError
from tierii_core.models import CheckStep, Message, Outcome


class Outbox(DeliveryProvider):
    """Writes each message into a local Maildir (the default when nothing else is configured)."""

    name = "outbox"
    priority = -100  # only when no real provider is configured
    max_batch = 100
    dkim_signs = True  # the Maildir holds the bytes as they would leave, signature included
    delivers = False  # nothing leaves this machine: no receiver checks who sent it

    @frozen
    class Settings:
        dir: Path = field(default=Path("outbox"), metadata={"help": "The Maildir the messages go to."})

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return True

    def open(self) -> None:
        try:
            import mailbox  # with the email package: not for every command, only a send through here

            # made here, not by Maildir(create=True): it makes nothing in a folder that exists
            # (the user's own empty `outbox`), and fails when another process running the same
            # campaign makes the folder between its look and its mkdir
            for folder in ("", "tmp", "new", "cur"):
                os.makedirs(os.path.join(self.settings.dir, folder), mode=0o700, exist_ok=True)
            self._maildir = mailbox.Maildir(os.fspath(self.settings.dir), factory=None, create=False)
        except OSError as exc:
            raise FatalProviderError(
                f"outbox {self.settings.dir}: cannot create the Maildir: {exc.strerror}"
            ) from exc
        self._lock = threading.Lock()

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes = []
        for message in messages:
            try:
                data = self.message_bytes(message)
            except ValueError as exc:  # this message cannot be written as built: its outcome alone
                outcomes.append(Outcome.unsendable(message, self.name, f"cannot be written: {exc}"))
                continue
            try:
                with self._lock:  # mailbox.Maildir is not thread-safe
                    key = self._maildir.add(data)
            except OSError as exc:
                raise FatalProviderError(f"outbox {self.settings.dir}: cannot write: {exc.strerror}") from exc
            outcomes.append(Outcome.sent(message, self.name, key))
        return outcomes

    def check(self) -> Iterator[CheckStep]:
        directory = self.settings.dir
        try:
            self.open()
        except FatalProviderError as exc:
            yield CheckStep("maildir", False, str(exc))
            return
        yield CheckStep(
            "maildir", True, f"{directory.resolve()} is writable ({len(self._maildir)} messages in it)"
        )


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    return [Outbox]
