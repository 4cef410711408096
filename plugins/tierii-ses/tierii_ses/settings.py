"""The provider's settings, filled by the core from ``TIERII_SES_<FIELD>``.

Credentials are not here: boto3 finds them through its own chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and ``~/.aws``, SSO, an instance or task role), and
``AWS_ENDPOINT_URL`` points it at another SES (moto's server in tests). TierII never sees a key.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from attrs import field, frozen

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


def _region_ok(_: Any, attribute: attrs.Attribute, value: str) -> None:
    if value and not _REGION.match(value):
        raise ValueError(f"'{attribute.name}' must be an AWS region such as us-east-1")


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"'{attribute.name}' must be > 0")


def _topics_ok(_: Any, attribute: attrs.Attribute, value: str) -> None:
    for arn in topic_list(value):
        if not _TOPIC_ARN.match(arn):
            raise ValueError(f"'{attribute.name}': {arn!r} is not an SNS topic ARN")


def topic_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@frozen
class SesSettings:
    """``TIERII_SES_*``: the region, the configuration set, and limits that override the account's."""

    region: str = field(
        default="",
        validator=_region_ok,
        metadata={
            "help": "AWS region of your SES account; setting it selects ses under TIERII_PROVIDER=auto. "
            "Empty: boto3's (AWS_REGION, ~/.aws/config).",
            "form": "an AWS region, e.g. us-east-1",
        },
    )
    configuration_set: str = field(
        default="",
        metadata={
            "help": "SES configuration set every message is sent with (event publishing, IP pool).",
            "form": "a configuration set name",
        },
    )
    max_send_rate: float = field(
        default=0.0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "Messages a second; 0 = the account's maximum send rate (GetAccount).",
            "form": "a number >= 0",
        },
    )
    daily_quota: int = field(
        default=0,
        validator=attrs.validators.ge(0),
        metadata={
            "help": "Messages in 24 hours; 0 = the account's quota (GetAccount).",
            "form": "a whole number >= 0",
        },
    )
    timeout: float = field(
        default=30.0,
        validator=_positive,
        metadata={
            "help": "Seconds to wait for SES's answer; a send whose answer never comes is 'unknown'.",
            "form": "a number of seconds > 0",
        },
    )
    connections: int = field(
        default=10,
        validator=attrs.validators.ge(1),
        metadata={
            "help": "HTTP connections kept open to SES (set it to at least --concurrency).",
            "form": "a whole number >= 1",
        },
    )
    notification_topics: str = field(
        default="",
        validator=_topics_ok,
        metadata={
            "help": "SNS topic ARNs `tierii ses notifications serve` accepts (comma-separated); "
            "empty: any topic.",
            "form": "arn:aws:sns:REGION:ACCOUNT:TOPIC[,...]",
        },
    )
