"""The ``mailersend`` delivery provider: batches through POST /v1/bulk-email, single messages
through POST /v1/email, over the official SDK with its retries off (TierII retries)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from tierii_core.components import DeliveryProvider
from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.logs import get_logger
from tierii_core.models import CheckStep, Credentials, Message, Outcome, Status
from tierii_mailersend import classify
from tierii_mailersend.bulk import BulkUnresolved, wait_for_completion
from tierii_mailersend.client import ApiClient, ClientPool, Reply, RequestLost, RequestNotSent
from tierii_mailersend.payload import InvalidMessage, build_request, one_click_url
from tierii_mailersend.quota import DailyQuota
from tierii_mailersend.settings import MAX_BULK_SIZE, MailerSendSettings
from tierii_mailersend.unsubscribe import UnsubscribeHeader

log = get_logger()

#: TierII paces requests this much under the account's limits: MailerSend counts requests in
#: fixed windows, so at exactly the limit, network jitter (the first request of a window late,
#: the last early) lets one request too many into a window and earns a 429
PACING_MARGIN = 0.98


class MailerSendProvider(DeliveryProvider):
    """Sends through the MailerSend API (official SDK): bulk requests of up to 500 emails."""

    name = "mailersend"
    priority = 100  # above smtp (50) and outbox (-100): chosen whenever its token is set
    Settings = MailerSendSettings
    # the defaults' figures; each instance sets its own from its settings
    max_batch = MAX_BULK_SIZE
    max_per_minute = 10 * PACING_MARGIN
    #: MailerSend DKIM-signs with the customer's verified domain: TIERII_DKIM_* is not used
    signs_for_sender = True

    def __init__(self, settings: MailerSendSettings, credentials: Credentials | None) -> None:
        super().__init__(settings, credentials)
        self.max_batch = settings.bulk_size
        # the limit of the endpoint each send() call uses; single messages in bulk mode go to
        # /v1/email, whose limit is higher, so the bulk figure is safe for every call
        limit = settings.bulk_per_minute if settings.bulk else settings.email_per_minute
        self.max_per_minute = limit * PACING_MARGIN
        self.max_per_day: int | None = settings.daily_quota or None
        self.quota = DailyQuota()
        self._pool: ClientPool | None = None
        self._stopping = threading.Event()
        self._fatal: str | None = None
        self.unsubscribe = UnsubscribeHeader(settings.unsubscribe)
        # with TIERII_MAILERSEND_UNSUBSCRIBE=mailersend the header that goes out is MailerSend's
        self.adds_list_unsubscribe = not self.unsubscribe.ours

    @classmethod
    def is_configured(cls, settings: MailerSendSettings) -> bool:
        return bool(settings.api_token)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Set up the SDK client and ask for today's quota: a wrong token stops here, before
        anything is sent; an unreachable API does not (the sends will say so per recipient)."""
        self._pool = self._make_pool()
        self._stopping.clear()
        try:
            self._read_quota(self._pool.get())
        except BaseException:
            self.close()  # a failed __enter__ gets no __exit__
            raise

    def _read_quota(self, client: ApiClient) -> None:
        try:
            reply = client.quota()
        except (RequestLost, RequestNotSent) as exc:
            log.warning("mailersend.quota_unknown", error=str(exc))
            return
        self.quota.observe(reply.headers)
        if reply.ok:
            self.quota.observe_quota(reply.body)
            if self.max_per_day is None and self.quota.quota is not None:
                self.max_per_day = self.quota.quota
            self.quota.require()
            return
        reason = classify.fatal_reason(reply)
        if reason is not None:
            raise FatalProviderError(reason)
        log.warning("mailersend.quota_unknown", error=classify.describe(reply))

    def close(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _make_pool(self) -> ClientPool:
        secret = self.credentials.secret if self.credentials else None
        if not secret:
            raise ConfigurationError(
                "the mailersend provider needs an API token: set TIERII_MAILERSEND_API_TOKEN"
            )
        settings = self.settings
        return ClientPool(lambda: ApiClient(secret.reveal(), settings.base_url, settings.timeout))

    # -- sending -----------------------------------------------------------------------------

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        if self._pool is None:
            raise RuntimeError("MailerSendProvider.send() before open()")
        if self._fatal is not None:
            raise FatalProviderError(self._fatal)
        outcomes: dict[int, Outcome] = {}
        wanted = any(one_click_url(m) for m in messages)
        with self.unsubscribe.deciding(self._stopping, wanted) as ours:
            if self._fatal is not None:  # decided while this worker waited
                raise FatalProviderError(self._fatal)
            requests, positions = [], []
            for index, message in enumerate(messages):
                try:
                    requests.append(build_request(message, our_unsubscribe=ours))
                    positions.append(index)
                except InvalidMessage as exc:
                    outcomes[index] = Outcome.permanent(message, self.name, f"not sent: {exc}")
            if requests:
                batch = [messages[i] for i in positions]
                self.quota.require()
                client = self._pool.get()
                results = (
                    self._send_bulk(client, requests, batch)
                    if self.settings.bulk and len(requests) > 1
                    else [self._send_one(client, r, m) for r, m in zip(requests, batch, strict=True)]
                )
                outcomes.update(zip(positions, results, strict=True))
                carried = any("list_unsubscribe" in r for r in requests)
                if carried and any(o.status is Status.SENT for o in results):
                    self.unsubscribe.accepted()
        return [outcomes[i] for i in range(len(messages))]

    def _send_one(self, client: ApiClient, request: dict, message: Message) -> Outcome:
        try:
            reply = client.send_email(request)
        except RequestNotSent as exc:
            return classify.not_sent([message], str(exc))[0]
        except RequestLost as exc:
            log.warning("mailersend.answer_lost", endpoint="email", error=str(exc))
            return classify.lost([message], str(exc))[0]
        self._observe(reply, "email")
        if reply.ok:
            return classify.accepted_email(reply, message)
        self._plan_refused(classify.plan_refusal(reply))
        return classify.refused(reply, [message], bulk=False)[0]

    def _plan_refused(self, detail: str | None) -> None:
        """MailerSend refused a field of the Professional plan: switch to its own unsubscribe
        header, or stop at the next send (this batch's accepted emails are recorded first)."""
        if detail is not None:
            reason = self.unsubscribe.refused_by_plan(detail)
            if reason is not None:
                self._fatal = reason
            self.adds_list_unsubscribe = not self.unsubscribe.ours

    def _send_bulk(self, client: ApiClient, requests: list[dict], batch: list[Message]) -> list[Outcome]:
        try:
            reply = client.send_bulk(requests)
        except RequestNotSent as exc:
            return classify.not_sent(batch, str(exc))
        except RequestLost as exc:
            log.warning("mailersend.answer_lost", endpoint="bulk-email", count=len(batch), error=str(exc))
            return classify.lost(batch, str(exc))
        self._observe(reply, "bulk-email")
        if not reply.ok:
            self._plan_refused(classify.plan_refusal(reply))
            return classify.refused(reply, batch, bulk=True)
        bulk_email_id = reply.body.get("bulk_email_id") if isinstance(reply.body, dict) else None
        if not bulk_email_id:
            return classify.lost(batch, f"bulk request accepted ({reply.status}) without a bulk_email_id")
        log.info("mailersend.bulk_accepted", bulk_email_id=bulk_email_id, count=len(batch))
        try:
            status = wait_for_completion(
                client,
                str(bulk_email_id),
                first_wait=self.settings.poll_interval,
                timeout=self.settings.poll_timeout,
                stopping=self._stopping,
            )
        except BulkUnresolved as exc:
            if exc.fatal:
                self._fatal = exc.fatal  # this batch is MailerSend's now; the next send stops the run
            log.warning("mailersend.bulk_unresolved", bulk_email_id=bulk_email_id, reason=str(exc))
            return [
                Outcome.unknown(m, self.name, f"accepted by MailerSend, result unknown: {exc}") for m in batch
            ]
        outcomes = classify.completed_bulk(status, batch, str(bulk_email_id))
        plan = classify.plan_refusals(status.get("validation_errors"))
        self._plan_refused(next(iter(plan.values()), None))
        log.info(
            "mailersend.bulk_completed",
            bulk_email_id=bulk_email_id,
            sent=sum(o.status is Status.SENT for o in outcomes),
            refused=sum(o.status is Status.FAILED for o in outcomes),
            unknown=sum(o.status is Status.UNKNOWN for o in outcomes),
        )
        return outcomes

    def _observe(self, reply: Reply, endpoint: str) -> None:
        self.quota.observe(reply.headers)
        if reply.status == 429:
            log.info(
                "mailersend.rate_limited", endpoint=endpoint, retry_after=reply.headers.get("retry-after")
            )
        if reply.headers.get("x-send-paused", "").lower() == "true":
            log.warning("mailersend.sending_paused", detail="the account's sending is paused in MailerSend")

    # -- tierii check ------------------------------------------------------------------------

    def check(self) -> Iterator[CheckStep]:
        settings = self.settings
        if not (self.credentials and self.credentials.secret):
            yield CheckStep("api token", False, "not set: set TIERII_MAILERSEND_API_TOKEN")
            return
        yield CheckStep("api token", True, f"set ({self.credentials.secret}), API at {settings.base_url}")
        mode = (
            f"bulk requests of up to {settings.bulk_size}" if settings.bulk else "one /v1/email request each"
        )
        yield CheckStep(
            "limits",
            True,
            f"{mode}; /v1/email {settings.email_per_minute}/min, "
            f"/v1/bulk-email {settings.bulk_per_minute}/min",
        )
        client = ApiClient(self.credentials.secret.reveal(), settings.base_url, settings.timeout)
        try:
            reply = client.quota()
        except (RequestLost, RequestNotSent) as exc:
            yield CheckStep("api quota", False, f"GET {settings.base_url}api-quota: no answer: {exc}")
            return
        finally:
            client.close()
        if not reply.ok:
            yield CheckStep(
                "api quota", False, classify.fatal_reason(reply) or f"MailerSend {classify.describe(reply)}"
            )
            return
        self.quota.observe_quota(reply.body)
        yield CheckStep("api quota", self.quota.left_today, self.quota.summary())
        yield CheckStep("unsubscribe header", True, f"{self.unsubscribe.describe()} ({self._mode_note()})")

    def _mode_note(self) -> str:
        if self.unsubscribe.mode == "auto":
            return "TIERII_MAILERSEND_UNSUBSCRIBE=auto: MailerSend's own if the plan refuses ours"
        return f"TIERII_MAILERSEND_UNSUBSCRIBE={self.unsubscribe.mode}"
