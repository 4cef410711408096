"""Registers the ``mailersend`` delivery provider. Importing this never imports the SDK."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider
from tierii_mailersend.provider import MailerSendProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    return [MailerSendProvider]
