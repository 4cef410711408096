"""A thin HTTP proxy in front of moto's server, for what moto cannot do: throttle, pause the
account, lose an answer after the message went in, answer ``GetAccount`` as SES does.

Everything else passes through unchanged. Faults are queued per call (``fail_next``) and
apply to ``SendEmail`` requests (``POST /v2/email/outbound-emails``) in arrival order.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"

#: fault -> (HTTP status, x-amzn-ErrorType, message), as SES answers them
ERRORS = {
    "throttle": (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    "throttling": (400, "ThrottlingException", "Rate exceeded"),
    "reject": (400, "MessageRejected", "Email address is not verified."),
    "paused": (400, "AccountSendingPausedException", "Sending is paused for this account."),
    "quota": (400, "LimitExceededException", "Daily message quota exceeded."),
    "bad_key": (403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "server_error": (500, "InternalFailure", "An internal error occurred."),
}
#: faults that forward the message to moto first (so it is sent) and then withhold the answer
AFTER_SENDING = {"lose_answer", "hang"}
#: no fault: the call passes through (to fail a later call of a sequence)
PASS = "pass"


class FaultProxy:
    """Forwards to ``upstream`` (moto's URL); a context manager serving on a free port of 127.0.0.1."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        #: GET /v2/email/account answers this (an :func:`account` dict, or a key of ERRORS)
        #: instead of moto's 404
        self.account: dict[str, Any] | str | None = None
        #: a key of :data:`ERRORS`: SES v1's GetSendQuota answers that error instead of moto
        self.send_quota_fault: str | None = None
        self.sends: list[dict[str, Any]] = []  # the body of every SendEmail request, in order
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, fault: str, count: int = 1) -> None:
        """The next ``count`` SendEmail calls get ``fault``: a key of :data:`ERRORS`, or
        ``lose_answer`` (sent, then the connection closed), ``hang`` (sent, never answered) or
        ``pass`` (no fault)."""
        if fault not in ERRORS and fault not in AFTER_SENDING and fault != PASS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.extend([fault] * count)

    def _next_fault(self, body: bytes) -> str | None:
        with self._lock:
            self.sends.append(json.loads(body or b"{}"))
            return self._faults.popleft() if self._faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: tests read outcomes
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                fault = None
                if self.command == "GET" and path == ACCOUNT_PATH and proxy.account is not None:
                    if isinstance(proxy.account, str):
                        fault = proxy.account
                    else:
                        return self._answer(200, json.dumps(proxy.account).encode(), "application/json")
                elif self.command == "POST" and path == "/" and b"Action=GetSendQuota" in body:
                    if proxy.send_quota_fault:
                        status, code, message = ERRORS[proxy.send_quota_fault]
                        return self._answer(status, _query_error(code, message), "text/xml")
                elif self.command == "POST" and path == SEND_PATH:
                    fault = proxy._next_fault(body)
                if fault in ERRORS:
                    status, code, message = ERRORS[fault]
                    payload = json.dumps({"message": message}).encode()
                    return self._answer(status, payload, "application/json", {"x-amzn-ErrorType": code})
                status, headers, answer = self._forward(body)
                if fault == "hang":
                    proxy._release.wait()
                if fault in AFTER_SENDING:
                    self.close_connection = True  # no answer at all: the client sees the line drop
                    return None
                return self._answer(status, answer, None, headers)

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in {"connection", "host"}
                    }
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    reply = connection.getresponse()
                    answer = reply.read()
                    kept = {
                        k: v
                        for k, v in reply.getheaders()
                        if k.lower() not in {"connection", "content-length", "transfer-encoding"}
                    }
                    return reply.status, kept, answer
                finally:
                    connection.close()

            def _answer(
                self,
                status: int,
                body: bytes,
                content_type: str | None,
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        return Handler


def _query_error(code: str, message: str) -> bytes:
    """An error as SES v1 (the AWS query protocol) answers it."""
    return (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>tierii-test</RequestId></ErrorResponse>"
    ).encode()


def account(
    max_send_rate: float = 14.0, max_24_hour_send: float = 50000.0, sent: float = 0.0, **fields: Any
) -> dict:
    """A GetAccount answer shaped as SES documents it."""
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "SendQuota": {
            "Max24HourSend": max_24_hour_send,
            "MaxSendRate": max_send_rate,
            "SentLast24Hours": sent,
        },
        **fields,
    }
