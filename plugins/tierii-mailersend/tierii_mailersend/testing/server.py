"""The local MailerSend on a socket: a threaded HTTP/1.1 (keep-alive) server on 127.0.0.1.

``http.server`` rather than a WSGI stack because the faults need the raw connection: closing
it after the body has been read, or answering late, is one line here.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tierii_mailersend.testing.api import Account, Answer
from tierii_mailersend.testing.faults import FaultScript
from tierii_mailersend.testing.limits import RateLimit
from tierii_mailersend.testing.records import AcceptedMessage, RequestRecord

DEFAULT_TOKEN = "mlsn.local-test-token"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server_version = "LocalMailerSend/1.0"
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.account.handle(self.command, self.path, headers, body)
        if answer.delay and self.server.stopping.wait(answer.delay):
            answer = Answer(0, drop=True)  # the server is stopping: do not hold it up
        if answer.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = answer.payload()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the account's journal records every request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self, account: Account) -> None:
        self.account = account
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is normal here (timeouts are tested on purpose)."""


class LocalMailerSend:
    """A local MailerSend API for tests and benchmarks, on a free port of 127.0.0.1.

    Use it as a context manager (or :meth:`start`/:meth:`stop`)::

        with LocalMailerSend(bulk_delay=0.05) as api:
            client = MailerSendClient(api_key=api.token, base_url=api.base_url)
            ...
            assert [m.recipient for m in api.messages] == ["ada@example.com"]

    ``limits`` overrides the per-minute limits by group (``"email"``, ``"bulk-email"``,
    ``"other"``; None = unlimited); ``verified_domains`` None accepts any sender domain;
    ``suppressed`` maps addresses to MailerSend's reasons (``hard_bounced``, ``blocklisted``...).
    ``daily_quota`` None (the default) is an account without a daily quota: every answer carries
    ``x-apiquota-remaining: -1``, as every recorded one does. ``plan`` (``trial``, ``hobby``,
    ``starter``, ``professional``, ``enterprise``) decides whether ``headers`` and
    ``list_unsubscribe`` are refused (422, below Professional). ``suppression_keys`` keys a bulk
    job's ``suppressed_recipients`` by ``"message_id"`` (the default) or ``"index"``.
    Script faults with :attr:`faults`; read what happened from :attr:`messages` and :attr:`requests`.
    ``clock`` (monotonic seconds) drives rate windows and bulk delays: tests can pass a fake one.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        tokens: Collection[str] = (),
        verified_domains: Collection[str] | None = None,
        suppressed: Mapping[str, Sequence[str]] | None = None,
        limits: Mapping[str, RateLimit | None] | None = None,
        daily_quota: int | None = None,
        bulk_delay: float = 0.5,
        max_bulk: int = 500,
        plan: str = "professional",
        suppression_keys: str = "message_id",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.account = Account(
            tokens={token, *tokens},
            verified_domains=verified_domains,
            suppressed=suppressed,
            limits=limits,
            daily_quota=daily_quota,
            bulk_delay=bulk_delay,
            max_bulk=max_bulk,
            plan=plan,
            suppression_keys=suppression_keys,
            clock=clock,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalMailerSend:
        if self._server is not None:
            raise RuntimeError("LocalMailerSend is already running")
        self._server = _Server(self.account)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-mailersend",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LocalMailerSend:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- where it is ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalMailerSend is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1/``: the SDK's ``base_url``, ``TIERII_MAILERSEND_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/v1/"

    def environment(self) -> dict[str, str]:
        """The ``TIERII_MAILERSEND_*`` variables that point TierII at this server."""
        return {"TIERII_MAILERSEND_API_TOKEN": self.token, "TIERII_MAILERSEND_BASE_URL": self.base_url}

    # -- scripting and inspection ------------------------------------------------------------------

    @property
    def faults(self) -> FaultScript:
        return self.account.faults

    def suppress(self, email: str, *reasons: str) -> None:
        self.account.suppress(email, *reasons)

    @property
    def messages(self) -> list[AcceptedMessage]:
        """Every email accepted for delivery so far (bulk jobs that are due are processed first)."""
        return self.account.messages

    def messages_to(self, email: str) -> list[AcceptedMessage]:
        return [m for m in self.messages if m.recipient.lower() == email.lower()]

    @property
    def requests(self) -> list[RequestRecord]:
        return self.account.journal.requests

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests have been decided (answered, delayed or dropped)."""
        return self.account.journal.wait_for_requests(count, timeout)

    def count(self, endpoint: str, status: int | None = None) -> int:
        """Requests to ``endpoint`` (``"email"``, ``"bulk-email"``, ``"bulk-status"``,
        ``"api-quota"``), optionally only those answered with ``status``."""
        return sum(r.endpoint == endpoint and (status is None or r.status == status) for r in self.requests)
