"""The official SDK's ``EmailClient``, set up so that TierII owns retries and pacing.

Imported only when the provider opens (azure-core costs a few hundred milliseconds).

- Sends are never retried by the SDK: a 429 or a lost answer reaches the provider, which
  tells the core (retry after Retry-After, or *unknown*), so nobody is mailed twice.
- Status reads (the poller's GETs) are idempotent: the SDK retries them, honouring Retry-After.
- Every request waits for room in its operation's documented limits first
  (:class:`PacingPolicy`), and every request fails at once after :meth:`SdkClient.close`,
  which ends the pollers' threads.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import requests
from azure.communication.email import EmailClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.polling import LROPoller

from tierii_azure.connection import Connection
from tierii_azure.pacing import SlidingWindows
from tierii_azure.settings import AzureSettings

#: the SDK's log records stop here: the provider reports what matters through structlog
_SDK_LOGGER = logging.getLogger("azure")
_SDK_LOGGER.addHandler(logging.NullHandler())
_SDK_LOGGER.propagate = False

#: the scope ACS's data plane takes Entra ID tokens for (what the SDK asks for too)
ENTRA_SCOPE = "https://communication.azure.com//.default"


class ClientClosed(ServiceRequestError):
    """The provider closed: a request (a poll, most often) was not sent."""


class RetryStatusReadsOnly(RetryPolicy):
    """azure-core's retries (Retry-After honoured) for GETs only: a send is never repeated here."""

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        return response.http_request.method.upper() == "GET" and super().is_retry(settings, response)

    def _is_method_retryable(self, settings: dict[str, Any], request: Any, response: Any = None) -> bool:
        return request.method.upper() == "GET" and super()._is_method_retryable(settings, request, response)


class PacingPolicy(SansIOHTTPPolicy):
    """Waits for room under the send or the status limits before each request goes out."""

    def __init__(self, sends: SlidingWindows, reads: SlidingWindows, closed: threading.Event) -> None:
        super().__init__()
        self.sends, self.reads, self.closed = sends, reads, closed

    def on_request(self, request: PipelineRequest) -> None:
        windows = self.sends if request.http_request.method.upper() == "POST" else self.reads
        if self.closed.is_set() or not windows.acquire(self.closed):
            raise ClientClosed("not sent: the provider is closing")


def limits_of(settings: AzureSettings) -> tuple[SlidingWindows, SlidingWindows]:
    """The send and the status-read windows from the settings."""
    sends = SlidingWindows([(settings.per_minute, 60.0), (settings.per_hour, 3600.0)])
    reads = SlidingWindows([(settings.status_per_minute, 60.0), (settings.status_per_hour, 3600.0)])
    return sends, reads


def entra_credential() -> Any:
    """azure-identity's DefaultAzureCredential; ImportError when azure-identity is not installed."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class SdkClient:
    """One ``EmailClient`` shared by the provider's threads (the SDK's clients are thread-safe)."""

    def __init__(
        self,
        settings: AzureSettings,
        connection: Connection | None,
        *,
        pool_size: int,
        credential: Any = None,
    ) -> None:
        self.settings = settings
        self.closed = threading.Event()
        self.sends, self.reads = limits_of(settings)
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        transport = RequestsTransport(
            session=self._session,
            session_owner=False,
            connection_timeout=min(settings.timeout, 10.0),
            read_timeout=settings.timeout,
            connection_verify=settings.ca_bundle or True,
        )
        if connection is not None:
            endpoint, credential = connection.endpoint, AzureKeyCredential(connection.access_key.reveal())
        else:
            endpoint = settings.endpoint.rstrip("/")
        self.endpoint = endpoint
        self._credential = credential
        self._sdk = EmailClient(
            endpoint,
            credential,
            transport=transport,
            retry_policy=RetryStatusReadsOnly(retry_total=5, retry_backoff_max=60),
            per_call_policies=[PacingPolicy(self.sends, self.reads, self.closed)],
            polling_interval=settings.poll_interval,
            logging_enable=False,
        )

    def begin_send(self, request: dict[str, Any], operation_id: str) -> LROPoller:
        """POST /emails:send; the poller polls GET {Operation-Location} in its own thread."""
        return self._sdk.begin_send(
            request, operation_id=operation_id, polling_interval=self.settings.poll_interval
        )

    def read_status(self, operation_id: str, **options: Any) -> Any:
        """GET /emails/operations/{id}: the operation's status (an ``HttpResponse``)."""
        from azure.core.rest import HttpRequest

        version = self._sdk._config.api_version  # the SDK's default, an ApiVersion (a str enum)
        version = getattr(version, "value", version)
        url = f"{self.endpoint}/emails/operations/{operation_id}?api-version={version}"
        return self._sdk.send_request(HttpRequest("GET", url), **options)

    def probe(self) -> Any:
        """GET the status of an operation that cannot exist: 404 when the credentials work."""
        return self.read_status(str(uuid.uuid4()), retry_total=0)  # one try: open() must not linger

    def close(self) -> None:
        self.closed.set()
        self._sdk.close()
        self._session.close()
        close = getattr(self._credential, "close", None)
        if callable(close):
            close()
