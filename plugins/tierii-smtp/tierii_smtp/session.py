"""One SMTP connection: set up step by step (connect, EHLO, STARTTLS, AUTH) with smtplib,
and the raw reads and writes that :mod:`tierii_smtp.transaction` builds mail transactions on."""

from __future__ import annotations

import contextlib
import enum
import functools
import select
import smtplib
import socket
import ssl
from collections.abc import Callable
from typing import Protocol

from tierii_core.logs import get_logger
from tierii_core.models import Credentials
from tierii_smtp import tls
from tierii_smtp.replies import Reply
from tierii_smtp.settings import SmtpSettings

log = get_logger()


class Failure(enum.Enum):
    """How bad a failed set-up step is."""

    TRANSIENT = "transient"  # busy, dropped: try again later
    UNREACHABLE = "unreachable"  # nothing answers at host:port
    FATAL = "fatal"  # settings, credentials or certificate: retrying cannot help


class SetupFailed(Exception):
    """A set-up step failed; ``str()`` says what and why, naming the server."""

    def __init__(self, step: str, reason: str, failure: Failure) -> None:
        super().__init__(reason)
        self.step = step
        self.failure = failure


class ConnectionLost(Exception):
    """The connection broke (closed, reset, timed out, garbled) during a transaction."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        #: the server stopped answering: the next message on a new connection would wait as long
        self.timed_out = timed_out


#: the longest reply line read (smtplib's limit): a longer one is garbage, not a reply
MAX_REPLY_LINE = 8192

_UNREACHABLE = (ConnectionRefusedError, socket.gaierror, TimeoutError, socket.timeout)


class ConnectionSlots(Protocol):
    """Permission to hold a connection to the server, shared beyond this process (the
    ``connection_slots`` seam of :class:`~tierii_smtp.provider.SmtpProvider`: tierii-celery fills
    it with a semaphore in Redis so that all workers together hold at most
    ``TIERII_SMTP_CONNECTIONS``). ``acquire`` blocks until a slot is free and returns its token,
    or None once ``stopping()`` says to give up; ``release`` hands the token back."""

    def acquire(self, stopping: Callable[[], bool]) -> object | None: ...

    def release(self, token: object) -> None: ...


class Session:
    """One connection to the server, used by one thread at a time (the pool sees to that)."""

    def __init__(
        self,
        settings: SmtpSettings,
        credentials: Credentials | None,
        context: ssl.SSLContext | None,
        helo_name: str,
        slots: ConnectionSlots | None = None,
    ) -> None:
        self.settings = settings
        #: shared connection slots, if any: one is held for as long as the connection is open
        self.slots = slots
        self._slot: object | None = None
        self.credentials = credentials
        self.context = context
        self.helo_name = helo_name
        self.conn: smtplib.SMTP | None = None
        self.greeting: Reply | None = None
        self._pipelining = False
        self._size_limit: int | None = None
        #: a refused transaction is still open at the server: send RSET before the next one
        self.needs_reset = False
        #: the run was interrupted: no new connection, and one made meanwhile is shut at once
        self.aborted = False
        #: bytes received and not yet read as replies (see :meth:`buffered_reply`)
        self._inbox = bytearray()

    # -- set-up, one step at a time (``tierii check`` shows each) -------------------------

    def setup(self) -> None:
        """Connect, EHLO, STARTTLS, EHLO again, AUTH: ready for transactions or SetupFailed."""
        if self.aborted:
            raise SetupFailed("connect", "the run was interrupted", Failure.TRANSIENT)
        try:
            self.connect()
            self.ehlo()
            if self.settings.security == "starttls":
                self.starttls()
                self.ehlo()
            if self.username:
                self.login()
        except SetupFailed:
            self.drop()
            raise
        # transactions use the socket without blocking (see receive and write); smtplib, which
        # blocks, gets it back for QUIT
        self._conn().sock.settimeout(0.0)  # type: ignore[union-attr]
        log.debug("smtp.connected", server=self.settings.where, security=self.settings.security)

    def connect(self) -> Reply:
        """Open the TCP (or, for SECURITY=ssl, TLS) connection and read the greeting."""
        where, host, port = self.settings.where, self.settings.host, self.settings.effective_port
        options = {"local_hostname": self.helo_name, "timeout": self.settings.timeout}
        self._inbox.clear()  # nothing read on an earlier connection belongs to this one
        if self.slots is not None and self._slot is None:
            self._slot = self.slots.acquire(lambda: self.aborted)
            if self._slot is None:
                raise SetupFailed("connect", "the run was interrupted", Failure.TRANSIENT)
        try:
            # connecting in the constructor: smtplib checks the certificate against the host
            # name given there (for SSL and STARTTLS alike)
            if self.settings.security == "ssl":
                self.conn = smtplib.SMTP_SSL(host, port, context=self.context, **options)
            else:
                self.conn = smtplib.SMTP(host, port, **options)
            code, text = 220, b""
            if self.aborted:  # interrupted while connecting: abort() may have missed this socket
                self._shut()
        except smtplib.SMTPConnectError as exc:  # a greeting other than 220; closed already
            code, text = exc.smtp_code, exc.smtp_error
        except ssl.SSLError as exc:
            raise self._tls_failed("connect", exc) from None
        except _UNREACHABLE as exc:
            raise SetupFailed("connect", f"cannot reach {where}: {_why(exc)}", Failure.UNREACHABLE) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._closed("connect", exc) from None
        self.greeting = greeting = Reply.parse(code, text)
        if code == 220:
            return greeting
        if greeting.transient or code < 0:
            raise SetupFailed("connect", f"{where} is not taking mail now: {greeting}", Failure.TRANSIENT)
        refusal = f"{where} refuses to take mail from this machine: {greeting}"
        raise SetupFailed("connect", refusal, Failure.FATAL)

    def ehlo(self) -> Reply:
        """EHLO (HELO if the server does not know EHLO); learn the server's extensions."""
        conn = self._conn()
        try:
            code, text = conn.ehlo()
            if code >= 500:
                code, text = conn.helo()
        except (OSError, smtplib.SMTPException) as exc:
            raise self._closed("ehlo", exc) from None
        reply = Reply.parse(code, text)
        if not reply.positive:
            failure = Failure.FATAL if reply.permanent else Failure.TRANSIENT
            refusal = f"{self.settings.where} refused EHLO {self.helo_name}: {reply}"
            raise SetupFailed("ehlo", refusal, failure)
        self._pipelining = conn.has_extn("pipelining")
        size = conn.esmtp_features.get("size", "").strip()
        self._size_limit = int(size) if size.isdigit() and int(size) > 0 else None
        return reply

    def capabilities(self) -> list[str]:
        conn = self._conn()
        return [f"{name.upper()} {value}".strip() for name, value in conn.esmtp_features.items()]

    def starttls(self) -> str:
        """Upgrade to TLS and verify the certificate; returns what was negotiated."""
        conn, where = self._conn(), self.settings.where
        if not conn.has_extn("starttls"):
            raise SetupFailed(
                "starttls",
                f"{where} does not offer STARTTLS. Set TIERII_SMTP_SECURITY=ssl if it takes TLS from the "
                "first byte (usually port 465), or TIERII_SMTP_SECURITY=none to send unencrypted "
                "(only to a relay on this machine or a trusted network)",
                Failure.FATAL,
            )
        try:
            conn.starttls(context=self.context)
        except ssl.SSLError as exc:
            raise self._tls_failed("starttls", exc) from None
        except smtplib.SMTPResponseException as exc:
            reply = Reply.parse(exc.smtp_code, exc.smtp_error)
            failure = Failure.TRANSIENT if reply.transient else Failure.FATAL
            raise SetupFailed("starttls", f"{where} refused STARTTLS: {reply}", failure) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._closed("starttls", exc) from None
        return tls.describe(conn.sock)  # type: ignore[arg-type]

    @property
    def username(self) -> str | None:
        return self.credentials.username if self.credentials else None

    def login(self) -> str:
        """AUTH with the credentials (smtplib picks CRAM-MD5, PLAIN or LOGIN, as offered)."""
        conn, where, user = self._conn(), self.settings.where, self.username
        secret = self.credentials.secret if self.credentials else None
        if not conn.has_extn("auth"):
            raise SetupFailed(
                "auth",
                f"{where} does not offer AUTH (log-in) on this connection; unset TIERII_SMTP_USERNAME "
                "to send without logging in, or use SECURITY=starttls or ssl (many servers offer AUTH "
                "only over TLS)",
                Failure.FATAL,
            )
        try:
            code, text = conn.login(user or "", secret.reveal() if secret else "")
        except smtplib.SMTPAuthenticationError as exc:
            reply = Reply.parse(exc.smtp_code, exc.smtp_error)
            if reply.transient:
                raise SetupFailed("auth", f"{where} cannot log in now: {reply}", Failure.TRANSIENT) from None
            raise SetupFailed(
                "auth",
                f"authentication failed at {where} for user {user!r}: {reply}; "
                "check TIERII_SMTP_USERNAME and TIERII_SMTP_PASSWORD",
                Failure.FATAL,
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise self._closed("auth", exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            # "No suitable authentication method found": none of CRAM-MD5, PLAIN, LOGIN offered
            raise SetupFailed("auth", f"cannot log in at {where}: {_why(exc)}", Failure.FATAL) from None
        return f"logged in as {user!r}: {Reply.parse(code, text)}"

    def quit(self) -> Reply | None:
        """QUIT politely; never raises."""
        conn, self.conn = self.conn, None
        self._inbox.clear()
        if conn is None:
            self._let_slot_go()
            return None
        try:
            if conn.sock is not None:
                conn.sock.settimeout(self.settings.timeout)
            code, text = conn.quit()
            return Reply.parse(code, text)
        except (OSError, smtplib.SMTPException):
            conn.close()
            return None
        finally:
            self._let_slot_go()

    def _let_slot_go(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None and self.slots is not None:
            self.slots.release(slot)

    def abort(self) -> None:
        """From another thread: shut the socket down so that a read or write blocked on it
        returns at once (the run is being interrupted), and refuse new connections. Never raises."""
        self.aborted = True
        self._shut()

    def _shut(self) -> None:
        conn = self.conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        """Close without a word (after an error): the next message reconnects."""
        conn, self.conn = self.conn, None
        self.needs_reset = False
        self._inbox.clear()
        if conn is not None:
            conn.close()
        self._let_slot_go()

    # -- what transactions use -----------------------------------------------------------------

    @property
    def pipelining(self) -> bool:
        return self._pipelining

    @property
    def size_limit(self) -> int | None:
        """The server's SIZE limit in bytes, if it announced one."""
        return self._size_limit

    def refresh(self) -> None:
        """Before a run of messages: drop the connection if the server closed it while it sat
        idle between batches (a 421 timeout, EOF), so that no message is spent finding out."""
        if self.conn is not None and self._closed_by_server():
            self.drop()

    def _closed_by_server(self) -> bool:
        sock = self._conn().sock
        if sock is None:
            return True
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

    def _closed(self, step: str, exc: BaseException) -> SetupFailed:
        reason = f"{self.settings.where} closed the connection: {_why(exc)}"
        return SetupFailed(step, reason, Failure.TRANSIENT)

    def _tls_failed(self, step: str, exc: ssl.SSLError) -> SetupFailed:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return SetupFailed(step, tls.certificate_refused(self.settings, exc), Failure.FATAL)
        return SetupFailed(step, tls.handshake_failed(self.settings, exc), Failure.FATAL)

    # The socket does not block while transactions use it: a send or recv is one system call
    # (a socket with a timeout polls before each), and the GIL is let go once, not twice
    # (each time, the sending thread may wait for it behind the thread that renders).

    def write(self, data: bytes) -> None:
        """Send ``data`` whole, waiting (up to the timeout) while the socket's buffer is full."""
        sock = self._socket()
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[sock.send(view) :]
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    self._wait_for(sock, select.POLLOUT)
        except OSError as exc:
            raise ConnectionLost(_why(exc), timed_out=_timed_out(exc)) from None

    def buffered_reply(self) -> Reply | None:
        """The next reply if it has arrived whole, else None (nothing is consumed).

        Replies are read here rather than by smtplib's ``getreply``: one ``recv`` takes every
        reply on the wire (with pipelining, the four of a message arrive together), and
        several connections can wait at once (:mod:`tierii_smtp.drive`)."""
        inbox = self._inbox
        start = 0
        lines = []
        while (end := inbox.find(b"\n", start)) >= 0:
            line = bytes(inbox[start : end + 1])
            start = end + 1
            code = line[:3]
            if not code.isdigit():
                raise ConnectionLost(f"unreadable reply {line[:80]!r}")
            lines.append(line[4:])
            if line[3:4] != b"-":
                del inbox[:start]
                return Reply.parse(int(code), lines[0] if len(lines) == 1 else b" ".join(lines))
        if len(inbox) - start > MAX_REPLY_LINE:
            raise ConnectionLost(f"unreadable reply (a line of more than {MAX_REPLY_LINE} bytes)")
        return None

    def receive(self) -> None:
        """Take what the server has sent into the buffer, if anything (never waits: call it
        once the socket is readable)."""
        sock = self._socket()
        try:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionLost("connection unexpectedly closed")
            self._inbox += chunk
            # TLS: a record decrypted but not read yet is invisible to a wait on the socket
            while isinstance(sock, ssl.SSLSocket) and sock.pending():
                self._inbox += sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return  # nothing whole yet (a TLS record half arrived): wait again
        except OSError as exc:
            raise ConnectionLost(_why(exc), timed_out=_timed_out(exc)) from None

    def _wait_for(self, sock: socket.socket, event: int) -> None:
        poller = select.poll()
        poller.register(sock, event)
        if not poller.poll(self.settings.timeout * 1000):
            raise TimeoutError

    def _socket(self) -> socket.socket:
        sock = self._conn().sock
        if sock is None:
            raise ConnectionLost("not connected")
        return sock

    def fileno(self) -> int:
        """The socket's file descriptor, to wait on; ConnectionLost when not connected."""
        return self._socket().fileno()

    def _conn(self) -> smtplib.SMTP:
        if self.conn is None:
            raise ConnectionLost("not connected")
        return self.conn


def _timed_out(exc: BaseException | None) -> bool:
    """A timeout, also behind the SMTPServerDisconnected that smtplib raises for one."""
    while exc is not None:
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _why(exc: BaseException) -> str:
    """A short, secret-free description of a network error."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


@functools.cache
def local_name() -> str:
    """This machine's name for EHLO, found as smtplib does (its FQDN, else its address
    literal), once per process: the lookup can be slow."""
    fqdn = socket.getfqdn()
    if "." in fqdn:
        return fqdn
    try:
        return f"[{socket.gethostbyname(socket.gethostname())}]"
    except OSError:
        return "[127.0.0.1]"
