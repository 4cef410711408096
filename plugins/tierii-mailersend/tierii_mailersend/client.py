"""The official SDK's client, set up so that TierII owns retries, and its answers as plain data.

The SDK (imported here lazily: it costs ~0.35 s) re-POSTs on 429, 5xx and read timeouts through
urllib3, which can send an email twice and hides the 429's headers. Each client gets an
``HTTPAdapter(max_retries=0)`` instead, so every answer reaches :mod:`.classify` as a
:class:`Reply`, and every transport failure as :class:`RequestNotSent` (safe to resend) or
:class:`RequestLost` (the request went out and its answer did not come back: never resend blindly).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

#: the SDK's log records (API errors it raises anyway, request traces) stop here: the provider
#: reports what matters through structlog, and the SDK's own handler would print to stderr
_SDK_LOGGER = logging.getLogger("tierii_mailersend.sdk")
_SDK_LOGGER.addHandler(logging.NullHandler())
_SDK_LOGGER.propagate = False


@frozen
class Reply:
    """An HTTP answer: status, headers (lower-case names) and the JSON body (or None)."""

    status: int
    headers: Mapping[str, str] = field(factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @classmethod
    def from_response(cls, response: Any) -> Reply:
        """From a ``requests.Response`` (what the SDK's exceptions carry)."""
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in response.headers.items()}
        return cls(response.status_code, headers, body)


class TransportError(Exception):
    """No HTTP answer arrived."""


class RequestNotSent(TransportError):
    """The request never reached the server (connection refused, DNS, TLS): safe to resend."""


class RequestLost(TransportError):
    """The request was sent but no answer came back (read timeout, connection dropped)."""


def _transport_error(exc: BaseException) -> TransportError:
    """Sort a ``requests`` exception by whether the server can have received the request."""
    import requests

    cause = exc.__cause__ or exc
    detail = f"{type(cause).__name__}: {cause}"
    if isinstance(cause, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return RequestNotSent(detail)
    if isinstance(cause, requests.exceptions.ConnectionError) and _never_connected(cause):
        return RequestNotSent(detail)
    return RequestLost(detail)


def _never_connected(exc: BaseException) -> bool:
    """True when urllib3 failed while opening the connection (before a byte of the request)."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return False


class ApiClient:
    """One SDK ``MailerSendClient`` (one HTTP connection pool) with retries off.

    Not shared between threads: :class:`ClientPool` hands each worker thread its own.
    """

    def __init__(self, token: str, base_url: str, timeout: float) -> None:
        from mailersend import MailerSendClient
        from requests.adapters import HTTPAdapter

        self._sdk = MailerSendClient(
            api_key=token, base_url=base_url, timeout=timeout, max_retries=0, logger=_SDK_LOGGER
        )
        adapter = HTTPAdapter(max_retries=0)
        self._sdk.session.mount("https://", adapter)
        self._sdk.session.mount("http://", adapter)
        for resource in vars(self._sdk).values():  # the resources log payloads at debug level
            if hasattr(resource, "logger") and hasattr(resource, "client"):
                resource.logger = _SDK_LOGGER

    def send_email(self, payload: Mapping[str, Any]) -> Reply:
        """POST /v1/email with one email object (:func:`.payload.build_request`). Through
        ``client.request``: ``emails.send`` drops the body, and with it the SOME_/ALL_SUPPRESSED
        warnings, and the SDK's model would drop ``list_unsubscribe``."""
        body = dict(payload)
        return self._call(lambda: self._sdk.request("POST", "email", body=body), raw=True)

    def send_bulk(self, payloads: Sequence[Mapping[str, Any]]) -> Reply:
        """POST /v1/bulk-email with one email object per recipient (raw, for the same reason)."""
        body = [dict(p) for p in payloads]
        return self._call(lambda: self._sdk.request("POST", "bulk-email", body=body), raw=True)

    def bulk_status(self, bulk_email_id: str) -> Reply:
        """GET /v1/bulk-email/{id}."""
        return self._call(lambda: self._sdk.emails.get_bulk_status(bulk_email_id))

    def quota(self) -> Reply:
        """GET /v1/api-quota."""
        return self._call(lambda: self._sdk.api_quota.get_quota())

    def close(self) -> None:
        self._sdk.session.close()

    @staticmethod
    def _call(call: Callable[[], Any], raw: bool = False) -> Reply:
        """Run one SDK call; ``raw`` when it returns a ``requests.Response``, not an APIResponse."""
        from mailersend.exceptions import MailerSendError

        try:
            result = call()
        except MailerSendError as exc:
            if exc.response is not None:
                return Reply.from_response(exc.response)
            raise _transport_error(exc) from exc
        if raw:
            return Reply.from_response(result)
        headers = {k.lower(): v for k, v in (result.headers or {}).items()}
        return Reply(result.status_code, headers, result.data)


class ClientPool:
    """Hands each thread its own :class:`ApiClient` (``send`` runs in several workers at once)."""

    def __init__(self, factory: Callable[[], ApiClient]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[ApiClient] = []

    def get(self) -> ApiClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._factory()
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()
