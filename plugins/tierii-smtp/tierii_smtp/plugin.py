"""Registers the ``smtp`` delivery provider."""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_smtp.provider import SmtpProvider

    return [SmtpProvider]
