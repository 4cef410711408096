"""The provider's settings, filled by the core from ``TIERII_MAILERSEND_<FIELD>``.

Defaults are MailerSend's documented figures for an account with a healthy reputation
(``/v1/email`` 120 requests a minute, ``/v1/bulk-email`` 10, at most 500 emails per bulk request).
``webhook_secret`` is for ``tierii mailersend webhooks serve``, not for sending. ``unsubscribe``
chooses whose List-Unsubscribe header goes out (see :mod:`tierii_mailersend.unsubscribe`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import attrs
from attrs import field, frozen

from tierii_core.models import Secret

OFFICIAL_BASE_URL = "https://api.mailersend.com/v1/"
MAX_BULK_SIZE = 500  # documented limit of objects in one POST /v1/bulk-email
#: TIERII_MAILERSEND_UNSUBSCRIBE: whose List-Unsubscribe header the emails carry
UNSUBSCRIBE_MODES = ("auto", "ours", "mailersend")


def _base_url_ok(_: Any, attribute: attrs.Attribute, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"'{attribute.name}' must be an http(s) URL")
    if not parts.path.rstrip("/").endswith("/v1"):
        # the SDK joins paths ("email", "bulk-email") onto it: without /v1/ every call is a 404
        raise ValueError(f"'{attribute.name}' must end with /v1/")
    if parts.query or parts.fragment:
        raise ValueError(f"'{attribute.name}' must have no query or fragment")


def _with_slash(value: str) -> str:
    return value.rstrip("/") + "/"


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0")


@frozen
class MailerSendSettings:
    """``TIERII_MAILERSEND_*``: the API token, where the API is, and its limits."""

    api_token: Secret = field(
        default=Secret(""),
        metadata={
            "help": "API token with email sending access (MailerSend > Integrations > API tokens).",
            "form": "a MailerSend API token (kept secret)",
        },
    )
    base_url: str = field(
        default=OFFICIAL_BASE_URL,
        converter=_with_slash,
        validator=_base_url_ok,
        metadata={
            "help": "The API's base URL; a local MailerSend in tests (tierii_mailersend.testing).",
            "form": "an http(s) URL ending in /v1/, e.g. https://api.mailersend.com/v1/",
        },
    )
    bulk_size: int = field(
        default=MAX_BULK_SIZE,
        validator=[attrs.validators.ge(1), attrs.validators.le(MAX_BULK_SIZE)],
        metadata={
            "help": "Emails per POST /v1/bulk-email (5 on a Trial plan); 1 sends each through /v1/email.",
            "form": f"a whole number from 1 to {MAX_BULK_SIZE}",
        },
    )
    email_per_minute: int = field(
        default=120,
        validator=attrs.validators.ge(1),
        metadata={
            "help": "Requests a minute your account may make to /v1/email (10 while under review).",
            "form": "a whole number >= 1",
        },
    )
    bulk_per_minute: int = field(
        default=10,
        validator=attrs.validators.ge(1),
        metadata={
            "help": "Requests a minute to /v1/bulk-email (plans: 10 Hobby, 15 Starter, 30 Pro, 60 Ent.).",
            "form": "a whole number >= 1",
        },
    )
    daily_quota: int = field(
        default=0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "API requests a day your plan allows; 0 = as GET /v1/api-quota reports at the start.",
            "form": "a whole number >= 0 (e.g. 1000 Hobby, 100000 Starter)",
        },
    )
    timeout: float = field(
        default=30.0,
        validator=_positive,
        metadata={
            "help": "Seconds to wait for an answer; a send whose answer never comes is 'unknown'.",
            "form": "a number of seconds > 0",
        },
    )
    poll_interval: float = field(
        default=2.0,
        validator=_positive,
        metadata={
            "help": "First wait before asking whether a bulk request is done; doubles up to 30 s.",
            "form": "a number of seconds > 0",
        },
    )
    poll_timeout: float = field(
        default=600.0,
        validator=_positive,
        metadata={
            "help": "How long to wait for a bulk request to complete; after that its emails are 'unknown'.",
            "form": "a number of seconds > 0",
        },
    )
    unsubscribe: str = field(
        default="auto",
        converter=lambda value: str(value).strip().lower(),
        validator=attrs.validators.in_(UNSUBSCRIBE_MODES),
        metadata={
            "help": "Whose List-Unsubscribe header goes out: ours (list_unsubscribe, Professional and "
            "Enterprise plans), mailersend (its own), or auto: ours until the plan refuses it.",
            "form": "auto, ours or mailersend",
        },
    )
    webhook_secret: Secret = field(
        default=Secret(""),
        metadata={
            "help": "Signing secret of your MailerSend webhook (several: comma-separated); "
            "for `tierii mailersend webhooks serve`.",
            "form": "the webhook's signing secret (kept secret), or several separated by commas",
        },
    )

    @property
    def bulk(self) -> bool:
        """Whether batches go through /v1/bulk-email (else one /v1/email request per message)."""
        return self.bulk_size > 1
