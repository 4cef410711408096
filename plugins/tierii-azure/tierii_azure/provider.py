"""The ``azure`` delivery provider: one ``begin_send`` per message through the official SDK,
sends in flight at once up to ``concurrency``, every operation polled to its final status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from tierii_azure import classify
from tierii_azure.connection import Connection, parse_connection_string
from tierii_azure.payload import InvalidMessage, build_request
from tierii_azure.settings import AzureSettings
from tierii_core.components import DeliveryProvider
from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.logs import get_logger
from tierii_core.models import CheckStep, Credentials, Message, Outcome

if TYPE_CHECKING:
    from tierii_azure.client import SdkClient

log = get_logger()

#: how often a wait for pollers looks whether the provider is closing
_WAKE = 0.5


class _Accepted:
    """A message ACS answered 202 for: its operation and the poller following it (None when
    the answer was lost: the operation is then looked up by its id)."""

    __slots__ = ("message", "operation_id", "poller", "started")

    def __init__(self, message: Message, operation_id: str, poller: Any, started: float) -> None:
        self.message, self.operation_id, self.poller, self.started = message, operation_id, poller, started


class AzureProvider(DeliveryProvider):
    """Sends through Azure Communication Services email (official SDK): one request per message."""

    name = "azure"
    priority = 90  # below mailersend (100), above smtp (50) and outbox (-100)
    Settings = AzureSettings
    max_batch = 50  # the default batch_size; each instance sets its own
    max_per_minute = None  # each request is paced here, to ACS's per-minute and per-hour limits
    signs_for_sender = True  # ACS DKIM-signs with the customer's verified domain

    def __init__(self, settings: AzureSettings, credentials: Credentials | None) -> None:
        super().__init__(settings, credentials)
        self.max_batch = settings.batch_size
        self._client: SdkClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._fatal: str | None = None

    @classmethod
    def is_configured(cls, settings: AzureSettings) -> bool:
        return bool(settings.connection_string or settings.endpoint)

    # -- lifecycle ---------------------------------------------------------------------------

    def _connection(self) -> Connection | None:
        """The connection string (credentials first: a keyring plugin may supply it), or None
        for Entra ID sign-in at TIERII_AZURE_ENDPOINT."""
        secret = self.credentials.secret if self.credentials and self.credentials.secret else None
        secret = secret or self.settings.connection_string
        if secret:
            try:
                return parse_connection_string(secret.reveal())
            except ValueError as exc:
                raise ConfigurationError(f"TIERII_AZURE_CONNECTION_STRING: {exc}") from None
        if self.settings.endpoint:
            return None
        raise ConfigurationError(
            "the azure provider needs TIERII_AZURE_CONNECTION_STRING, or TIERII_AZURE_ENDPOINT "
            "for Entra ID sign-in"
        )

    def _make_client(self) -> SdkClient:
        from tierii_azure.client import SdkClient, entra_credential

        connection = self._connection()
        credential = None
        if connection is None:
            try:
                credential = entra_credential()
            except ImportError:
                raise ConfigurationError(
                    "TIERII_AZURE_ENDPOINT without a connection string signs in with Entra ID, "
                    "which needs azure-identity: pip install 'tierii-azure[entra]'"
                ) from None
        # every send in flight and every poll may hold a connection at once
        pool_size = self.settings.concurrency + self.settings.batch_size
        return SdkClient(self.settings, connection, pool_size=pool_size, credential=credential)

    def open(self) -> None:
        """Build the client and try the credentials: a wrong key stops here, before anything is
        sent; an unreachable service does not (each send will say so for its recipient)."""
        self._fatal = None
        self._client = self._make_client()
        self._pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="tierii-azure")
        try:
            reason, detail = self._probe(self._client)
        except BaseException:
            self.close()  # a failed __enter__ gets no __exit__
            raise
        if reason is not None:
            self.close()
            raise FatalProviderError(reason)
        if detail:
            log.warning("azure.credentials_unchecked", detail=detail)

    def _probe(self, client: SdkClient) -> tuple[str | None, str]:
        """(why nothing can be sent, or None; what could not be checked)."""
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

        try:
            response = client.probe()
        except ClientAuthenticationError as exc:  # Entra ID: no token
            return f"Entra ID sign-in failed: {_first_line(exc)}", ""
        except (ServiceRequestError, ServiceResponseError) as exc:
            return None, f"{client.endpoint}: no answer: {_first_line(exc)}"
        status = response.status_code
        if status in classify.FATAL_STATUSES and status != 404:
            code, text = classify.error_of(response)
            where = (
                "the identity DefaultAzureCredential found needs a role that may send email "
                "on the resource at TIERII_AZURE_ENDPOINT"
                if self._connection() is None
                else "check TIERII_AZURE_CONNECTION_STRING (portal > Communication Service > Keys)"
            )
            return (
                f"ACS refused the credentials ({classify.FATAL_STATUSES[status]}): "
                f"{classify.describe(status, code, text)}; {where}",
                "",
            )
        if status in (200, 404):
            return None, ""
        return None, f"{client.endpoint}: HTTP {status} to a status read"

    def close(self) -> None:
        client, self._client = self._client, None
        pool, self._pool = self._pool, None
        if client is not None:
            client.close()
        if pool is not None:
            pool.shutdown(wait=True)

    # -- sending -----------------------------------------------------------------------------

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        client, pool = self._client, self._pool
        if client is None or pool is None:
            raise RuntimeError("AzureProvider.send() before open()")
        if self._fatal is not None:
            raise FatalProviderError(self._fatal)
        outcomes: dict[int, Outcome] = {}
        started: dict[int, Future[Outcome | _Accepted]] = {}
        for index, message in enumerate(messages):
            try:
                request = build_request(message, self.settings.sender)
            except InvalidMessage as exc:
                outcomes[index] = Outcome.permanent(message, self.name, f"not sent: {exc}")
                continue
            started[index] = pool.submit(self._begin, client, message, request)
        accepted: dict[int, _Accepted] = {}
        for index, future in started.items():
            result = future.result()
            if isinstance(result, _Accepted):
                accepted[index] = result
            else:
                outcomes[index] = result
        if self._fatal is not None and not accepted:
            raise FatalProviderError(self._fatal)
        for index, item in accepted.items():
            outcomes[index] = self._wait(client, item)
        return [outcomes[i] for i in range(len(messages))]

    def _begin(self, client: SdkClient, message: Message, request: dict[str, Any]) -> Outcome | _Accepted:
        """POST /emails:send for one message (in a pool thread)."""
        if self._fatal is not None:
            return Outcome.transient(message, self.name, f"not sent: {self._fatal}")
        from azure.core.exceptions import ServiceResponseError

        operation_id = str(uuid.uuid4())
        try:
            poller = client.begin_send(request, operation_id)
        except ServiceResponseError as exc:
            # the request went out and its answer did not come back: ACS may have the message
            log.warning("azure.answer_lost", operation_id=operation_id, error=_first_line(exc))
            return _Accepted(message, operation_id, None, time.monotonic())
        except Exception as exc:
            try:
                outcome = classify.send_refused(exc, message)
            except classify.Fatal as fatal:
                self._fatal = str(fatal)
                log.error("azure.refused", reason=str(fatal))
                return Outcome.transient(message, self.name, f"not sent: {fatal}")
            if (outcome.reason or "").startswith("rate limited"):
                log.info("azure.rate_limited", retry_after=outcome.retry_after)
            return outcome
        return _Accepted(message, operation_id, poller, time.monotonic())

    def _wait(self, client: SdkClient, item: _Accepted) -> Outcome:
        """The final status of one accepted message, or unknown after ``poll_timeout``; the
        operation id goes with every outcome (the journal keeps it, to look the message up)."""
        outcome = self._final(client, item)
        if outcome.provider_message_id is None:
            outcome = attrs.evolve(outcome, provider_message_id=item.operation_id)
        return outcome

    def _final(self, client: SdkClient, item: _Accepted) -> Outcome:
        if item.poller is None:
            return self._look_up(client, item)
        deadline = item.started + self.settings.poll_timeout
        while not item.poller.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome.unknown(
                    item.message,
                    self.name,
                    f"accepted (operation {item.operation_id}), still running after "
                    f"{self.settings.poll_timeout:g} s (TIERII_AZURE_POLL_TIMEOUT)",
                )
            if client.closed.is_set():
                return Outcome.unknown(
                    item.message,
                    self.name,
                    f"accepted (operation {item.operation_id}), the run stopped before its status was known",
                )
            try:
                item.poller.wait(min(remaining, _WAKE))
            except Exception:  # the poll failed: classify.final() reads the same error
                break
        return classify.final(item.poller, item.message, item.operation_id)

    def _look_up(self, client: SdkClient, item: _Accepted) -> Outcome:
        """A send whose answer was lost: ask ACS for the operation by the id we gave it, and
        follow it to its final status. Not found stays *unknown*: it is probably not sent, but
        only ``--retry-unknown`` may send it again."""
        deadline = item.started + self.settings.poll_timeout
        lost = f"the send's answer was lost (operation {item.operation_id})"
        while True:
            try:
                response = client.read_status(item.operation_id)
            except Exception as exc:
                return Outcome.unknown(
                    item.message, self.name, f"{lost}; looking it up failed: {_first_line(exc)}"
                )
            if response.status_code == 404:
                return Outcome.unknown(
                    item.message, self.name, f"{lost}; ACS has no such operation: probably not sent"
                )
            body = _json_or_none(response) if response.status_code == 200 else None
            outcome = classify.settled(body, item.message, item.operation_id)
            if outcome is not None:
                log.info("azure.answer_recovered", operation_id=item.operation_id)
                return outcome
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("Running", "NotStarted"):
                code, text = classify.error_of(response)
                return Outcome.unknown(
                    item.message, self.name, f"{lost}; {classify.describe(response.status_code, code, text)}"
                )
            wait = classify.retry_after(response) or self.settings.poll_interval
            if time.monotonic() + wait > deadline:
                return Outcome.unknown(item.message, self.name, f"{lost}; still running at the poll timeout")
            if client.closed.wait(wait):
                return Outcome.unknown(
                    item.message, self.name, f"{lost}; the run stopped before its status was known"
                )

    # -- tierii check ------------------------------------------------------------------------

    def check(self) -> Iterator[CheckStep]:
        settings = self.settings
        try:
            connection = self._connection()
        except ConfigurationError as exc:
            yield CheckStep("sign-in", False, str(exc))
            return
        if connection is not None:
            yield CheckStep(
                "sign-in", True, f"connection string (access key ********) for {connection.endpoint}"
            )
        else:
            yield CheckStep("sign-in", True, f"Entra ID (DefaultAzureCredential) for {settings.endpoint}")
        yield CheckStep(
            "sender",
            True,
            f"senderAddress {settings.sender}" if settings.sender else "senderAddress: each template's From",
        )
        yield CheckStep(
            "limits",
            True,
            f"sends {settings.per_minute}/min and {settings.per_hour}/hour, status reads "
            f"{settings.status_per_minute}/min and {settings.status_per_hour}/hour; "
            f"{settings.concurrency} sends in flight; polls every {settings.poll_interval:g} s "
            f"unless ACS says otherwise",
        )
        try:
            client = self._make_client()
        except ConfigurationError as exc:
            yield CheckStep("api", False, str(exc))
            return
        try:
            reason, detail = self._probe(client)
        finally:
            client.close()
        if reason is not None:
            yield CheckStep("api", False, reason)
        elif detail:
            yield CheckStep("api", False, detail)
        else:
            yield CheckStep("api", True, f"{client.endpoint} accepted the credentials")


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
