"""The account's limits: its maximum send rate and 24-hour quota, as SES reports them.

SESv2's ``GetAccount`` gives them (and whether sending is enabled); where it is missing (an
older emulator answers 404, a policy that allows only ``ses:GetSendQuota``) SES v1's
``GetSendQuota`` does; where neither answers, there is no limit but the user's, with a warning.
``TIERII_SES_MAX_SEND_RATE`` and ``TIERII_SES_DAILY_QUOTA`` override what the account says.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from tierii_core.logs import get_logger
from tierii_ses.client import error_code
from tierii_ses.settings import SesSettings

log = get_logger()


@frozen
class AccountLimits:
    """What the run may send. ``None`` means unknown (no limit is applied)."""

    max_send_rate: float | None = None  # messages a second
    max_24_hour_send: int | None = None  # None: unknown or unlimited
    sent_last_24_hours: int | None = None
    sending_enabled: bool = True
    production_access: bool | None = None
    source: str = "none"  # "GetAccount", "GetSendQuota" or "none"; "+settings" when overridden

    @property
    def remaining(self) -> int | None:
        """Messages left in the rolling 24 hours."""
        if self.max_24_hour_send is None:
            return None
        return max(0, self.max_24_hour_send - (self.sent_last_24_hours or 0))

    def summary(self) -> str:
        rate = f"{self.max_send_rate:g} msg/s" if self.max_send_rate else "no rate limit known"
        if self.max_24_hour_send is None:
            quota = "no 24-hour quota known"
        else:
            sent = self.sent_last_24_hours or 0
            quota = f"{self.max_24_hour_send} in 24 h ({sent} sent, {self.remaining} left)"
        return f"{rate}, {quota} (from {self.source})"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number < 0 else number  # SES says -1 for "unlimited"


def _from_quota(quota: dict[str, Any], source: str, **extra: Any) -> AccountLimits:
    rate = _number(quota.get("MaxSendRate"))
    daily = _number(quota.get("Max24HourSend"))
    sent = _number(quota.get("SentLast24Hours"))
    return AccountLimits(
        max_send_rate=rate or None,
        max_24_hour_send=int(daily) if daily is not None else None,
        sent_last_24_hours=int(sent) if sent is not None else None,
        source=source,
        **extra,
    )


class LimitsUnavailable(Exception):
    """Neither GetAccount nor GetSendQuota answered; the args say why."""


def read_account(v2: Any, v1: Any, fatal: Any) -> AccountLimits:
    """Ask SES. ``fatal(exc)`` returns the run-stopping reason of an error (bad credentials...),
    which is raised as :class:`~tierii_core.errors.FatalProviderError`; other errors fall back.
    Raise :class:`LimitsUnavailable` when nothing answered."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tierii_core.errors import FatalProviderError

    problems = []
    try:
        account = v2.get_account()
    except ClientError as exc:
        if (reason := fatal(exc)) is not None:
            raise FatalProviderError(reason) from None
        problems.append(f"GetAccount: {error_code(exc) or exc}")
    except BotoCoreError as exc:
        problems.append(f"GetAccount: {exc}")
    else:
        return _from_quota(
            account.get("SendQuota") or {},
            "GetAccount",
            sending_enabled=bool(account.get("SendingEnabled", True)),
            production_access=account.get("ProductionAccessEnabled"),
        )
    try:
        quota = v1.get_send_quota()
    except ClientError as exc:
        if (reason := fatal(exc)) is not None:
            raise FatalProviderError(reason) from None
        problems.append(f"GetSendQuota: {error_code(exc) or exc}")
    except BotoCoreError as exc:
        problems.append(f"GetSendQuota: {exc}")
    else:
        log.info("ses.limits_fallback", reason=problems[0], source="GetSendQuota")
        return _from_quota(quota, "GetSendQuota")
    raise LimitsUnavailable("; ".join(problems))


def apply_overrides(limits: AccountLimits, settings: SesSettings) -> AccountLimits:
    """The settings' figures, where set, in place of the account's."""
    import attrs

    changes: dict[str, Any] = {}
    if settings.max_send_rate:
        changes["max_send_rate"] = settings.max_send_rate
    if settings.daily_quota:
        changes["max_24_hour_send"] = settings.daily_quota
    if changes:
        changes["source"] = f"{limits.source}+settings" if limits.source != "none" else "settings"
    return attrs.evolve(limits, **changes) if changes else limits
