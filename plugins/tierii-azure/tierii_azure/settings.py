"""The provider's settings, filled by the core from ``TIERII_AZURE_<FIELD>``.

The limits' defaults are Azure Communication Services' documented initial limits for a
custom domain ("Service limits for Azure Communication Services", section "Rate limits for
email"): Send Email 30 a minute and 100 an hour, Get Email Status 60 a minute and 200 an
hour, per subscription. Azure raises them on request: set the figures you were granted.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import field, frozen

from tierii_azure.connection import check_endpoint, parse_connection_string
from tierii_core.models import Secret


def _connection_string_ok(_: Any, __: attrs.Attribute, value: Secret) -> None:
    if value:
        parse_connection_string(value.reveal())


def _endpoint_ok(_: Any, __: attrs.Attribute, value: str) -> None:
    if value:
        check_endpoint(value)


def _sender_ok(_: Any, __: attrs.Attribute, value: str) -> None:
    if value and (value.count("@") != 1 or any(c.isspace() or c in "<>" for c in value)):
        raise ValueError("the sender is a bare address such as DoNotReply@mail.example.com")


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0")


def _count(default: int, help: str) -> Any:
    return field(
        default=default,
        validator=attrs.validators.ge(1),
        metadata={"help": help, "form": "a whole number >= 1"},
    )


@frozen
class AzureSettings:
    """``TIERII_AZURE_*``: how to sign in, who sends, and the resource's limits."""

    connection_string: Secret = field(
        default=Secret(""),
        validator=_connection_string_ok,
        metadata={
            "help": "The resource's connection string (portal > Communication Service > Keys): "
            "HMAC-signed requests.",
            "form": "endpoint=https://NAME.communication.azure.com/;accesskey=KEY (kept secret)",
        },
    )
    endpoint: str = field(
        default="",
        validator=_endpoint_ok,
        metadata={
            "help": "The resource's endpoint, for Entra ID sign-in (azure-identity's DefaultAzureCredential) "
            "when no connection string is set.",
            "form": "an https URL such as https://NAME.communication.azure.com",
        },
    )
    sender: str = field(
        default="",
        validator=_sender_ok,
        metadata={
            "help": "The MailFrom address of your verified domain (senderAddress); "
            "empty = the template's From.",
            "form": "an address such as DoNotReply@mail.example.com",
        },
    )
    per_minute: int = _count(30, "Send Email requests a minute the subscription allows (documented: 30).")
    per_hour: int = _count(100, "Send Email requests an hour the subscription allows (documented: 100).")
    status_per_minute: int = _count(60, "Get Email Status requests (polls) a minute (documented: 60).")
    status_per_hour: int = _count(200, "Get Email Status requests (polls) an hour (documented: 200).")
    concurrency: int = field(
        default=4,
        validator=[attrs.validators.ge(1), attrs.validators.le(64)],
        metadata={
            "help": "Send requests in flight at once in each batch (polls run alongside).",
            "form": "a whole number from 1 to 64",
        },
    )
    batch_size: int = field(
        default=50,
        validator=[attrs.validators.ge(1), attrs.validators.le(1000)],
        metadata={
            "help": "Messages per provider call: each is its own request and operation, all polled together.",
            "form": "a whole number from 1 to 1000",
        },
    )
    poll_interval: float = field(
        default=5.0,
        validator=_positive,
        metadata={
            "help": "Seconds between polls of an operation when ACS gives no Retry-After "
            "(the SDK's default is 30); ACS's Retry-After wins when it sends one.",
            "form": "a number of seconds > 0",
        },
    )
    poll_timeout: float = field(
        default=600.0,
        validator=_positive,
        metadata={
            "help": "How long to wait for an operation to finish; after that its message is 'unknown'.",
            "form": "a number of seconds > 0",
        },
    )
    timeout: float = field(
        default=30.0,
        validator=_positive,
        metadata={
            "help": "Seconds to wait for an HTTP answer; a send whose answer never comes is looked up by "
            "its operation id ('unknown' if ACS has no such operation).",
            "form": "a number of seconds > 0",
        },
    )
    ca_bundle: str = field(
        default="",
        metadata={
            "help": "A PEM file of CA certificates to trust instead of the system's (a TLS-inspecting "
            "proxy, a local test server).",
            "form": "a path to a PEM file, or empty",
        },
    )

    @property
    def uses_entra_id(self) -> bool:
        """Entra ID sign-in: an endpoint and no connection string."""
        return bool(self.endpoint) and not self.connection_string
