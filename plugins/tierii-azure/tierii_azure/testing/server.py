"""The local ACS on a socket: a threaded HTTP/1.1 (keep-alive) server on 127.0.0.1, over
https with a test CA (trustme) when asked, and a managed-identity token endpoint beside it.

https matters for Entra ID: azure-core sends bearer tokens only over https. The token
endpoint is the App Service kind (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``), plain http on
the loopback as on App Service itself, which azure-identity's DefaultAzureCredential uses.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tierii_azure.testing.api import Answer, Faults, RateLimit, Resource
from tierii_azure.testing.records import AcceptedMessage, RequestRecord

#: the local resource's access keys (primary, secondary): base64, as the portal shows them
DEFAULT_KEY = base64.b64encode(b"tierii-local-acs-primary-key-0001").decode()
SECONDARY_KEY = base64.b64encode(b"tierii-local-acs-secondary-key-02").decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalACS/1.0"
    timeout = 60
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.handler(self.command, self.path, headers, body)
        if answer.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = answer.payload()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the resource's journal records every request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: Callable[[str, str, Mapping[str, str], bytes], Answer]) -> None:
        self.handler = handler
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is normal here."""


class _Running:
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-acs", daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class LocalAcs:
    """A local Azure Communication Services email endpoint for tests and benchmarks.

    ::

        with LocalAcs() as acs:                      # plain http, HMAC (connection string)
            os.environ.update(acs.environment())     # TIERII_AZURE_CONNECTION_STRING
            ...
            assert [m.recipient for m in acs.delivered] == ["ada@example.com"]

        with LocalAcs(tls=True) as acs:              # https with a test CA, for Entra ID
            os.environ.update(acs.entra_environment())  # TIERII_AZURE_ENDPOINT, IDENTITY_*, CA

    ``limits`` maps ``"send"`` and ``"status"`` to :class:`RateLimit` (None: unlimited);
    ``processing_time`` is how long an operation stays ``Running``; ``poll_after`` the
    ``retry-after`` seconds ACS sends while it runs (None: no header). Script failures with
    :attr:`faults`; read :attr:`accepted` (every 202), :attr:`delivered` (operations that
    succeeded) and :attr:`requests`.
    """

    def __init__(
        self,
        *,
        tls: bool = False,
        keys: Collection[str] = (DEFAULT_KEY, SECONDARY_KEY),
        limits: Mapping[str, RateLimit | None] | None = None,
        verified_domains: Collection[str] | None = None,
        processing_time: float = 0.0,
        poll_after: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.tls = tls
        self.key = next(iter(keys))
        self.resource = Resource(
            keys=keys,
            limits=limits or {},
            verified_domains=verified_domains,
            processing_time=processing_time,
            poll_after=poll_after,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.identity_secret = base64.b64encode(os.urandom(12)).decode()
        self._api: _Running | None = None
        self._identity: _Running | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.ca_bundle = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalAcs:
        server = _Server(self.resource.handle)
        if self.tls:
            self._wrap_tls(server)
        self._api = _Running(server)
        self.resource.base_url = self.endpoint
        return self

    def _wrap_tls(self, server: _Server) -> None:
        import trustme

        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="local-acs-")
        path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        self.ca_bundle = str(path)

    def stop(self) -> None:
        for running in (self._api, self._identity):
            if running is not None:
                running.stop()
        self._api = self._identity = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalAcs:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- where it is ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self._api is None:
            raise RuntimeError("LocalAcs is not running")
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._api.port}"

    def connection_string(self, key: str | None = None) -> str:
        return f"endpoint={self.endpoint}/;accesskey={key or self.key}"

    def environment(self, key: str | None = None) -> dict[str, str]:
        """``TIERII_AZURE_*`` for connection-string sign-in (and the CA when on https)."""
        env = {"TIERII_AZURE_CONNECTION_STRING": self.connection_string(key)}
        if self.ca_bundle:
            env["TIERII_AZURE_CA_BUNDLE"] = self.ca_bundle
        return env

    def entra_environment(self) -> dict[str, str]:
        """``TIERII_AZURE_ENDPOINT`` and the App Service managed-identity variables that make
        DefaultAzureCredential fetch tokens from this resource's local token endpoint."""
        if not self.tls:
            raise RuntimeError("Entra ID needs https: LocalAcs(tls=True)")
        if self._identity is None:
            self._identity = _Running(_Server(self._token))
        return {
            "TIERII_AZURE_ENDPOINT": self.endpoint,
            "TIERII_AZURE_CA_BUNDLE": self.ca_bundle,
            "IDENTITY_ENDPOINT": f"http://127.0.0.1:{self._identity.port}/msi/token",
            "IDENTITY_HEADER": self.identity_secret,
        }

    def _token(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        if method != "GET" or parts.path != "/msi/token":
            answer = Answer(404, {}, {"error": "not_found"})
        elif headers.get("x-identity-header") != self.identity_secret:
            answer = Answer(
                401, {}, {"error": "invalid_request", "error_description": "bad X-IDENTITY-HEADER"}
            )
        elif not query.get("resource", [""])[0].startswith("https://communication.azure.com"):
            answer = Answer(400, {}, {"error": "invalid_resource", "error_description": "unknown resource"})
        else:
            token, expiry = self.resource.issue_token()
            body_ = {
                "access_token": token,
                "expires_on": str(int(expiry)),
                "resource": query["resource"][0],
                "token_type": "Bearer",
            }
            answer = Answer(200, {}, body_)
        self.resource.journal.add(RequestRecord(method, parts.path, "token", answer.status))
        return answer

    # -- scripting and inspection ------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self.resource.faults

    @property
    def accepted(self) -> list[AcceptedMessage]:
        return self.resource.accepted

    @property
    def delivered(self) -> list[AcceptedMessage]:
        return self.resource.delivered

    def delivered_to(self, email: str) -> list[AcceptedMessage]:
        return [m for m in self.delivered if m.recipient.lower() == email.lower()]

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self.resource.journal.requests)

    def count(self, operation: str, status: int | None = None) -> int:
        """Requests for ``operation`` (``send``, ``status``, ``token``), optionally with ``status``."""
        return sum(r.operation == operation and (status is None or r.status == status) for r in self.requests)

    @property
    def throttled(self) -> Mapping[str, int]:
        """429s answered so far, by operation."""
        return dict(self.resource.throttled)
