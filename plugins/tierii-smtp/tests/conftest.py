"""Real SMTP servers on 127.0.0.1 for the smtp provider's tests.

``scripted_server`` starts aiosmtpd in-process (its socket bound to port 0 before the server
runs: no race for the port) with whatever TLS, AUTH and scripted failures a test asks for:
421 at the greeting, refusals on RCPT, a connection dropped in the middle of DATA or after
it, a 421 that closes the connection. Certificates come from ``trustme``: a test CA, and a
server certificate for 127.0.0.1 and localhost signed by it.
"""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from attrs import frozen

from tierii_core.testing.fixtures import tierii_environment, tierii_state_dir  # noqa: F401
from tierii_smtp.settings import SmtpSettings
from tierii_smtp.testing import SMTP_SINK, SmtpSinkProcess

START_TIMEOUT = 30.0  # a bound on a hang, never a pause
#: the server's receive buffer: small, so a big message cannot all be buffered before a drop
RCVBUF = 64 * 1024


@frozen
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None
    connection: int
    at: float = 0.0  # time.monotonic() when the server accepted it

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class ScriptedServer:
    """aiosmtpd on 127.0.0.1 that records what it accepts and fails when told to.

    Script it before sending:

    - ``greetings``: replies (``421 busy``) the next connections get instead of 220, then closed
    - ``refuse``: address -> reply to its RCPT, every time; ``refuse_once``: the first time only
    - ``close_on_rcpt_once``: 421 to that RCPT, then the connection is closed
    - ``refuse_data``: address -> reply to the end of its message (the message is not kept)
    - ``drop_in_data_once``: 354, then the connection is reset before the message ends
    - ``drop_after_data_once``: the whole message is taken, then closed without a reply
    - ``stall_after_data``: every message is taken and never answered (a server that hangs);
      ``stalled`` is set when the first one is in
    """

    def __init__(
        self,
        *,
        pipelining: bool = False,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        auth_exclude: tuple[str, ...] = (),
        size_limit: int | None = None,
    ) -> None:
        self.pipelining = pipelining
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.auth_exclude = auth_exclude
        self.size_limit = size_limit
        self.port = 0
        self.greetings: list[str] = []
        self.refuse: dict[str, str] = {}
        self.refuse_once: dict[str, str] = {}
        self.close_on_rcpt_once: set[str] = set()
        self.refuse_data: dict[str, str] = {}
        self.drop_in_data_once: set[str] = set()
        self.drop_after_data_once: set[str] = set()
        self.stall_after_data = False
        self.stalled = threading.Event()
        self.messages: list[Received] = []
        self.connections = 0
        self.auth_attempts: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._live: set[Any] = set()  # open connections (server thread only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def recipients(self) -> list[str]:
        with self._lock:
            return [r for m in self.messages for r in m.rcpt_tos]

    # -- called from the server's thread ------------------------------------------------------

    def _take(self, scripted: set[str] | dict[str, str], address: str) -> Any:
        with self._lock:
            if isinstance(scripted, dict):
                return scripted.pop(address.lower(), None)
            if address.lower() in scripted:
                scripted.discard(address.lower())
                return True
            return None

    def _new_connection(self) -> tuple[int, str | None]:
        with self._lock:
            self.connections += 1
            return self.connections, self.greetings.pop(0) if self.greetings else None

    def _record(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert self.credentials is not None and isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self._lock:
            self.auth_attempts.append((mechanism, login))
        ok = (login, password) == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        from aiosmtpd.smtp import SMTP

        server = self
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.port = listener.getsockname()[1]
        loop = asyncio.new_event_loop()
        options: dict[str, Any] = {"hostname": "scripted.test", "loop": loop, "enable_SMTPUTF8": False}
        if self.starttls is not None:
            options["tls_context"] = self.starttls
        if self.size_limit is not None:
            options["data_size_limit"] = self.size_limit
        if self.credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.starttls is not None,
                auth_exclude_mechanism=self.auth_exclude,
            )

        class Scripted(SMTP):
            number = 0
            greeting: str | None = None

            def connection_made(self, transport: Any) -> None:
                if self.transport is None:  # not the second call that follows STARTTLS
                    self.number, self.greeting = server._new_connection()
                    server._live.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                server._live.discard(self)
                super().connection_lost(error)

            async def _handle_client(self) -> None:
                if self.greeting:
                    await self.push(self.greeting)
                    self.transport.close()
                    return
                await super()._handle_client()

            async def smtp_DATA(self, arg: str) -> None:
                rcpts = self.envelope.rcpt_tos if self.envelope else []
                if any(server._take(server.drop_in_data_once, r) for r in rcpts):
                    await self.push("354 End data with <CR><LF>.<CR><LF>")
                    self.transport.abort()  # unread data in the buffer: the peer gets a reset
                    await asyncio.Event().wait()  # cancelled as the connection goes
                await super().smtp_DATA(arg)

        handler = _Handler(self)
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                created = loop.run_until_complete(
                    loop.create_server(
                        lambda: Scripted(handler, **options), sock=listener, ssl=self.implicit_tls
                    )
                )
            except BaseException as exc:  # reported by start(), in the test's thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                created.close()
                for task in asyncio.all_tasks(loop):  # connections still being served
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
                loop.run_until_complete(created.wait_closed())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"scripted-smtp-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT) or failure:
            raise RuntimeError(f"the scripted SMTP server did not start: {failure!r}")
        return self

    def hang_up_all(self) -> None:
        """Close every open connection, as a server does to idle clients; returns once closed."""

        async def hang_up() -> None:
            for connection in list(self._live):
                connection.transport.close()
            while self._live:  # connection_lost runs on the next turns of the loop
                await asyncio.sleep(0)

        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(hang_up(), self._loop).result(START_TIMEOUT)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
        self._loop = self._thread = None


class _Handler:
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        if self.server.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        scripted = self.server
        if scripted._take(scripted.close_on_rcpt_once, address):
            asyncio.get_running_loop().call_soon(server.transport.close)  # once the reply is out
            return "421 4.4.2 scripted.test closing connection"
        reply = scripted.refuse.get(address.lower()) or scripted._take(scripted.refuse_once, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        scripted = self.server
        refusal = next(
            (scripted.refuse_data[r] for r in envelope.rcpt_tos if r in scripted.refuse_data), None
        )
        if refusal:
            return refusal
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content),
            login=session.auth_data if isinstance(session.auth_data, str) else None,
            connection=server.number,
            at=time.monotonic(),
        )
        scripted._record(received)
        if any(scripted._take(scripted.drop_after_data_once, r) for r in envelope.rcpt_tos):
            server.transport.abort()  # taken, but the client never hears so
            await asyncio.Event().wait()  # cancelled as the connection goes
        if scripted.stall_after_data:
            scripted.stalled.set()
            await asyncio.Event().wait()  # never answers; cancelled as the connection goes
        return f"250 2.0.0 Ok: queued as Q{len(scripted.messages):05d}"


# -- certificates -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    """A server context whose certificate (for 127.0.0.1 and localhost) the test CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def wrong_host_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    """Signed by the test CA, but for another host name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("mail.elsewhere.test").configure_cert(context)
    return context


# -- servers and settings ---------------------------------------------------------------------


@pytest.fixture
def scripted_server() -> Iterator[Callable[..., ScriptedServer]]:
    """``scripted_server(pipelining=True, starttls=ctx, credentials=("u", "p"))`` -> started server."""
    started: list[ScriptedServer] = []

    def start(**options: Any) -> ScriptedServer:
        server = ScriptedServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(scripted_server: Callable[..., ScriptedServer]) -> ScriptedServer:
    """A plain server: no TLS, no AUTH, no pipelining."""
    return scripted_server()


@pytest.fixture
def settings_for() -> Callable[..., SmtpSettings]:
    """``settings_for(server, **fields)``: settings pointing at ``server`` (security none unless given)."""

    def make(server: ScriptedServer, **fields: Any) -> SmtpSettings:
        fields.setdefault("security", "none")
        fields.setdefault("timeout", 10.0)
        return SmtpSettings(host="127.0.0.1", port=server.port, **fields)

    return make


@pytest.fixture(scope="session")
def big_text() -> str:
    """Text larger than the client's socket buffer can ever hold, so that a reset in the middle
    of DATA reaches the client while it is still writing (7bit lines of 72 characters)."""
    send_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return ("x" * 71 + "\n") * (2 * send_max // 72 + 1000)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where nothing listens (bound, never listening, while the test runs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# -- Postfix's smtp-sink, for volume ---------------------------------------------------------


@pytest.fixture
def smtp_sink_process() -> Iterator[SmtpSinkProcess]:
    """smtp-sink, or a skip saying how to get it; a failure when TIERII_REQUIRE_SMTP_SINK=1."""
    if not SMTP_SINK.exists():
        reason = (
            f"{SMTP_SINK} is not installed (Debian: apt-get install postfix; the daemon is never "
            "started); set TIERII_REQUIRE_SMTP_SINK=1 to make its absence a failure"
        )
        if os.environ.get("TIERII_REQUIRE_SMTP_SINK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sink = SmtpSinkProcess().start()
    try:
        yield sink
    finally:
        sink.stop()


# -- the `tierii` command, in a subprocess ----------------------------------------------------

TEXT_TEMPLATE = """\
Subject: {{first_name}}, your {{favorite}} order in {{city}} is ready ✓
From: Zoë's Shop <shop@example.com>

Hi {{first_name}} {{last_name}},

your {{favorite}} is waiting for you in {{city}}. Your code: {{code}}.
{{#big}}BIG_TEXT{{/big}}
Advertisement.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""

HTML_TEMPLATE = """\
<p>Hi <b>{{first_name}} {{last_name}}</b>, your code is {{code}}.</p>
<p>Advertisement. {{sender_address}}</p>
<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>
"""


class Campaign:
    """Files and settings for ``tierii send`` in a scratch directory, and a way to run it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TIERII_")}
        self.env.update(
            TIERII_SENDER_ADDRESS="Zoë's Shop, 1 Main Street, Springfield, IL 62701",
            TIERII_UNSUBSCRIBE_URL="https://shop.example/unsubscribe",
            TIERII_UNSUBSCRIBE_SECRET="test-secret-0123456789abcdef",
            TIERII_RETRY_DELAY="0.01",  # the core's backoff base: keep retries quick
            TIERII_STATE_DIR=str(root / "state"),
            # these tests are about delivery, not sender authentication (test_smtp_dkim.py):
            # the test server stands for a relay that DKIM-signs (the authenticated rule)
            TIERII_SMTP_RELAY_SIGNS="true",
        )

    def point_at(self, port: int, **settings: str) -> None:
        self.env.update(TIERII_SMTP_HOST="127.0.0.1", TIERII_SMTP_PORT=str(port), TIERII_SMTP_SECURITY="none")
        self.env.update({f"TIERII_SMTP_{k.upper()}": v for k, v in settings.items()})

    def contacts(self, count: int, big_for: str | None = None) -> list[dict[str, str]]:
        """``count`` contacts with non-ASCII and ``&`` in their names, written to contacts.csv."""
        rows = [
            {
                "email": f"person{i}@example.com",
                "first_name": ["Zoë", "Ann & Bob", "Иван", "José"][i % 4] + str(i),
                "last_name": f"Çelik-{i}",
                "city": ["Zürich", "Oslo", "Kraków"][i % 3],
                "favorite": ["Blue Dream", "Gelato"][i % 2],
                "code": f"C{i:06d}",
                "big": "yes" if f"person{i}@example.com" == big_for else "",
            }
            for i in range(count)
        ]
        with (self.root / "contacts.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return rows

    def templates(self, big_text: str = "") -> None:
        (self.root / "offer.mustache").write_text(
            TEXT_TEMPLATE.replace("BIG_TEXT", big_text), encoding="utf-8"
        )
        (self.root / "offer.html.mustache").write_text(HTML_TEMPLATE, encoding="utf-8")

    def send(self, *options: str) -> subprocess.CompletedProcess[str]:
        if not (self.root / "offer.mustache").exists():
            self.templates()
        return self.tierii(
            "send",
            "contacts.csv",
            "-t",
            "offer.mustache",
            "--html",
            "offer.html.mustache",
            "--provider",
            "smtp",
            *options,
        )

    def tierii(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from tierii_core.cli import main; main()", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,  # a bound on a hang
        )


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    return Campaign(tmp_path / "campaign")
