"""The ``ses`` delivery provider: one SESv2 ``SendEmail`` per message, raw MIME.

TierII renders each message itself, so there is nothing for a bulk call to personalise: every
recipient gets one ``SendEmail`` carrying the exact bytes TierII built (the same bytes the
outbox and smtp providers deliver, List-Unsubscribe headers and HTML alternative included),
with the recipient as the only envelope destination. SES then DKIM-signs them with the
customer's verified domain (Easy DKIM).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tierii_core.components import DeliveryProvider
from tierii_core.errors import FatalProviderError
from tierii_core.logs import get_logger
from tierii_core.models import CheckStep, Credentials, Message, Outcome
from tierii_core.ratelimit import TokenBucket
from tierii_ses import classify
from tierii_ses.limits import AccountLimits, LimitsUnavailable, apply_overrides, read_account
from tierii_ses.settings import SesSettings

if TYPE_CHECKING:
    from tierii_ses.client import Clients

log = get_logger()


class SesProvider(DeliveryProvider):
    """Sends through Amazon SES (boto3's SESv2 client): one raw MIME message per call."""

    name = "ses"
    priority = 90  # below mailersend (100), above smtp (50): chosen once TIERII_SES_REGION is set
    Settings = SesSettings
    max_batch = 1  # SendEmail carries one rendered message
    signs_for_sender = True  # Easy DKIM: SES signs with the customer's verified domain

    def __init__(self, settings: SesSettings, credentials: Credentials | None) -> None:
        super().__init__(settings, credentials)
        # a rate given in the settings is known before open(): the core paces calls too
        self.max_per_minute: float | None = settings.max_send_rate * 60 if settings.max_send_rate else None
        self.max_per_day: int | None = None
        self.limits = AccountLimits()
        self._v2: Any = None
        self._v1: Any = None
        self._bucket: TokenBucket | None = None
        self._stopping = threading.Event()
        self._fatal: str | None = None
        self._fatal_lock = threading.Lock()

    @classmethod
    def is_configured(cls, settings: SesSettings) -> bool:
        return bool(settings.region)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Build the clients and read the account's limits: refused credentials or a paused
        account stop here, before anything is sent."""
        from tierii_ses.client import make_clients

        self._stopping.clear()
        self._fatal = None
        self.max_per_day = None  # this run's figure, from what the account says is left
        clients = make_clients(self.settings)
        self._v2, self._v1 = clients.v2, clients.v1
        try:
            self.limits = self._read_limits()
        except BaseException:
            self.close()  # a failed __enter__ gets no __exit__
            raise
        limits = self.limits
        if not limits.sending_enabled:
            self.close()
            raise FatalProviderError("SES reports that sending is disabled for the account (GetAccount)")
        if limits.production_access is False:
            log.warning(
                "ses.sandbox", detail="the account is in the SES sandbox: only verified recipients get mail"
            )
        remaining = limits.remaining
        if remaining is not None:
            if remaining <= 0:
                self.close()
                raise FatalProviderError(
                    f"the SES 24-hour sending quota is used up ({limits.summary()}); re-run later"
                )
            self.max_per_day = remaining
        rate = limits.max_send_rate
        self._bucket = TokenBucket.for_requests(rate * 60) if rate else None
        log.info("ses.limits", limits=limits.summary(), region=self._v2.meta.region_name)

    def _read_limits(self) -> AccountLimits:
        try:
            limits = read_account(self._v2, self._v1, classify.fatal_reason)
        except LimitsUnavailable as exc:
            log.warning(
                "ses.limits_unknown",
                reason=str(exc),
                detail="no SES limit is applied: set TIERII_SES_MAX_SEND_RATE and TIERII_SES_DAILY_QUOTA",
            )
            limits = AccountLimits()
        return apply_overrides(limits, self.settings)

    def close(self) -> None:
        self._stopping.set()
        for client in (self._v2, self._v1):
            if client is not None:
                client.close()
        self._v2 = self._v1 = None

    # -- sending -----------------------------------------------------------------------------

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        client = self._v2
        if client is None:
            raise RuntimeError("SesProvider.send() before open()")
        outcomes: list[Outcome] = []
        for message in messages:
            if self._fatal is not None:
                if not outcomes:
                    raise FatalProviderError(self._fatal)
                # earlier messages of this call were accepted: report them, and stop at the next call
                outcomes.append(classify.not_sent(message, self._fatal))
                continue
            try:
                outcomes.append(self._send_one(client, message))
            except FatalProviderError as exc:
                if not outcomes:
                    raise
                outcomes.append(classify.not_sent(message, str(exc)))
        return outcomes

    def _send_one(self, client: Any, message: Message) -> Outcome:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ParamValidationError,
        )

        if self._bucket is not None and not self._bucket.acquire(stop=self._stopping):
            return classify.not_sent(message, "the provider is closing")
        request: dict[str, Any] = {
            "FromEmailAddress": message.sender.email,
            "Destination": {"ToAddresses": [message.to.email]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
        }
        if self.settings.configuration_set:
            request["ConfigurationSetName"] = self.settings.configuration_set
        try:
            reply = client.send_email(**request)
        except ClientError as exc:
            reason = classify.fatal_reason(exc)
            if reason is None:
                outcome = classify.client_error(exc, message)
                if outcome.is_transient:
                    log.info("ses.transient", email=message.to.email, error=classify.describe(exc))
                return outcome
            with self._fatal_lock:
                self._fatal = self._fatal or reason
            log.error("ses.fatal", reason=reason)
            raise FatalProviderError(reason) from None
        except ParamValidationError as exc:  # refused by botocore before anything went out
            return Outcome.permanent(message, self.name, f"not sent: {exc}")
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            return classify.not_sent(message, str(exc))
        except BotoCoreError as exc:  # read timeout, connection closed: the request was out
            log.warning("ses.answer_lost", email=message.to.email, error=str(exc))
            return classify.lost(message, str(exc))
        return Outcome.sent(message, self.name, str(reply.get("MessageId") or "") or None)

    # -- tierii check ------------------------------------------------------------------------

    def check(self) -> Iterator[CheckStep]:
        from tierii_core.errors import ConfigurationError
        from tierii_ses.client import make_clients

        try:
            clients = make_clients(self.settings)
        except ConfigurationError as exc:
            yield CheckStep("aws credentials", False, str(exc))
            return
        try:
            yield from self._check_with(clients)
        finally:
            clients.close()

    def _check_with(self, clients: Clients) -> Iterator[CheckStep]:
        from botocore.exceptions import BotoCoreError, ClientError

        v2, v1 = clients.v2, clients.v1
        yield CheckStep(
            "aws credentials",
            True,
            f"access key {clients.key_hint} (from {clients.key_source}), "
            f"region {v2.meta.region_name}, endpoint {v2.meta.endpoint_url}",
        )
        try:
            limits = apply_overrides(read_account(v2, v1, classify.fatal_reason), self.settings)
        except FatalProviderError as exc:
            yield CheckStep("limits", False, str(exc))
            return
        except LimitsUnavailable as exc:
            limits = apply_overrides(AccountLimits(), self.settings)
            yield CheckStep("limits", True, f"{limits.summary()}; the account's are unknown: {exc}")
        else:
            ok = limits.sending_enabled and (limits.remaining is None or limits.remaining > 0)
            yield CheckStep(
                "limits", ok, limits.summary() + ("" if limits.sending_enabled else "; sending disabled")
            )
        try:
            identities = v2.list_email_identities().get("EmailIdentities", [])
        except (ClientError, BotoCoreError) as exc:
            yield CheckStep("identities", False, f"ListEmailIdentities: {classify.describe(exc)}")
            return
        # moto reports VerificationStatus SUCCESS while VerifiedForSendingStatus is false:
        # SUCCESS is what SES's console shows as verified, and it is what we accept
        verified = [i["IdentityName"] for i in identities if i.get("VerificationStatus") == "SUCCESS"]
        others = [
            f"{i['IdentityName']} ({i.get('VerificationStatus', 'unknown')})"
            for i in identities
            if i.get("VerificationStatus") != "SUCCESS"
        ]
        detail = "verified: " + (", ".join(verified) or "none")
        if others:
            detail += "; not verified: " + ", ".join(others)
        yield CheckStep("identities", bool(verified), detail)
        sender = _default_sender()
        if sender:
            domain = sender.rpartition("@")[2].lower()
            covering = [i for i in verified if i.lower() in (sender.lower(), domain)]
            yield CheckStep(
                "sender",
                bool(covering),
                f"{sender} (TIERII_FROM_EMAIL): "
                + (f"verified through {covering[0]}" if covering else "no verified identity covers it"),
            )
        if self.settings.configuration_set:
            try:
                v2.get_configuration_set(ConfigurationSetName=self.settings.configuration_set)
            except (ClientError, BotoCoreError) as exc:
                yield CheckStep(
                    "configuration set", False, f"{self.settings.configuration_set}: {classify.describe(exc)}"
                )
            else:
                yield CheckStep("configuration set", True, self.settings.configuration_set)


def _default_sender() -> str:
    """TIERII_FROM_EMAIL, read as a run reads it ('' when unset or unreadable)."""
    from tierii_core.errors import SettingsError
    from tierii_core.settings import CoreSettings, SettingsReader

    try:
        return SettingsReader().load(CoreSettings).from_email.strip()
    except SettingsError:
        return ""
