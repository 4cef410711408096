"""Registers the ``azure`` delivery provider.

Importing this never imports the SDK (azure-core costs a few hundred milliseconds): every
``tierii`` invocation, ``--help`` included, loads this module.
"""

from __future__ import annotations

from tierii_core import hookimpl
from tierii_core.components import DeliveryProvider


@hookimpl
def tierii_delivery_providers() -> list[type[DeliveryProvider]]:
    # imported when the registry is built, not when the plugin loads: `tierii --help` stays fast
    from tierii_azure.provider import AzureProvider

    return [AzureProvider]
