"""Registers the ``smtp`` delivery provider."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider
from tierii_smtp.provider import SmtpProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    return [SmtpProvider]
