"""An SMTP server on 127.0.0.1 that records what it accepts: aiosmtpd, run in-process.

The listening socket is bound (port 0: the system picks a free port) before the server
starts, so there is no race for the port, and :meth:`SmtpSink.start` returns only once the
server is serving. When a client's ``DATA`` gets its ``250``, the message is already in
:attr:`SmtpSink.messages`: nothing to wait for.

aiosmtpd is imported when the sink starts, so this module imports without it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import warnings
from email.message import EmailMessage
from typing import Any

from attrs import frozen

#: how long :meth:`SmtpSink.start` and :meth:`SmtpSink.stop` wait for the server thread (a
#: bound on a hang, never a pause: both return as soon as the thread is ready or done)
THREAD_TIMEOUT = 30.0


@frozen
class ReceivedMessage:
    """One message the sink accepted: the envelope and the bytes as received."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None = None  # the AUTH user, when the client logged in

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the standard library (``policy.default``)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class SmtpSink:
    """An SMTP server recording messages; refuses addresses on request.

    ``credentials=("user", "secret")`` offers AUTH PLAIN/LOGIN and requires it;
    ``tls_context`` (e.g. from ``trustme``) offers STARTTLS.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = 0
        self.credentials = credentials
        self.tls_context = tls_context
        self.messages: list[ReceivedMessage] = []
        self._refusals: dict[str, str] = {}
        self._refuse_all: str | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified at each accepted message
        self._delivered = 0  # recipients accepted (one per recipient of each message)
        self._open: asyncio.Event  # made by start(); cleared by hold(): replies to DATA wait for it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- what a test looks at and steers ---------------------------------------------------

    @property
    def recipients(self) -> list[str]:
        """Every accepted recipient, in order, one entry per delivery."""
        with self._lock:
            return [rcpt for m in self.messages for rcpt in m.rcpt_tos]

    def refuse(self, address: str, reply: str = "550 5.1.1 no such user here") -> None:
        """Answer ``RCPT TO:<address>`` (case-insensitive) with ``reply`` instead of 250."""
        with self._lock:
            self._refusals[address.lower()] = reply

    def refuse_all(self, reply: str | None = "451 4.3.0 try again later") -> None:
        """Answer every ``RCPT TO`` with ``reply`` (None: accept again)."""
        with self._lock:
            self._refuse_all = reply

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self._delivered = 0
            self._refusals.clear()
            self._refuse_all = None

    def wait_for(self, deliveries: int, timeout: float = THREAD_TIMEOUT) -> bool:
        """Block until the sink has accepted at least ``deliveries`` recipients in all (one per
        recipient of each message, as :attr:`recipients` counts them); False if ``timeout``
        seconds passed first (a bound on a hang: it returns as soon as the count is reached)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._delivered >= deliveries, timeout)

    def hold(self) -> None:
        """Keep every message waiting for its reply to ``DATA`` (not accepted, not recorded)
        until :meth:`release`: a server that has not answered yet. Connections, ``MAIL`` and
        ``RCPT`` are served as usual. The sink must be started."""
        self._on_loop(lambda: self._open.clear())

    def release(self) -> None:
        """Answer the messages :meth:`hold` kept waiting, and every later one at once."""
        self._on_loop(lambda: self._open.set())

    def _on_loop(self, call: Any) -> None:
        """Run ``call`` in the server's thread (asyncio objects belong to it), and wait for it."""
        if self._loop is None:
            raise RuntimeError("the SMTP sink is not started")

        async def run() -> None:
            call()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(THREAD_TIMEOUT)

    # -- the server --------------------------------------------------------------------------

    def start(self) -> None:
        from aiosmtpd.smtp import SMTP  # lazily: only tests that start a sink need aiosmtpd

        listener = socket.create_server((self.host, 0))
        self.port = listener.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._open = asyncio.Event()  # one per start: an asyncio object belongs to one loop
        self._open.set()
        ready = threading.Event()
        failure: list[BaseException] = []
        options: dict[str, Any] = {"enable_SMTPUTF8": True, "hostname": "tierii-sink", "loop": loop}
        if self.tls_context is not None:
            options["tls_context"] = self.tls_context
        if self.credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls_context is not None,
            )
        handler = _Handler(self)

        def protocol() -> Any:
            with warnings.catch_warnings():  # AUTH without TLS is what a plain test sink offers
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
                return SMTP(handler, **options)

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                server = loop.run_until_complete(loop.create_server(protocol, sock=listener))
            except BaseException as exc:  # reported by start() in the test's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                loop.run_until_complete(server.wait_closed())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"smtp-sink-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(THREAD_TIMEOUT):
            raise RuntimeError(f"the SMTP sink on {self.host}:{self.port} did not start")
        if failure:
            raise RuntimeError(f"the SMTP sink could not start: {failure[0]!r}") from failure[0]

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(THREAD_TIMEOUT)
        self._loop = self._thread = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- called from the server thread ------------------------------------------------------

    def _refusal(self, address: str) -> str | None:
        with self._lock:
            return self._refuse_all or self._refusals.get(address.lower())

    def _record(self, message: ReceivedMessage) -> None:
        with self._changed:
            self.messages.append(message)
            self._delivered += len(message.rcpt_tos)
            self._changed.notify_all()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert self.credentials is not None
        user, secret = self.credentials
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == secret
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        reply = self.sink._refusal(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self.sink._open.wait()  # SmtpSink.hold()
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.sink._record(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content or envelope.content),
                login=login,
            )
        )
        return "250 2.0.0 accepted"
