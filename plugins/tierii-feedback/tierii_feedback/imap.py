"""Reports from an IMAP folder, through IMAPClient (UIDs, MOVE, IDLE; the standard library's
imaplib has no IDLE). TLS always, the certificate verified (system CAs, or ``CA_FILE``), the
host name checked: as tierii-smtp does.

A processed report is MOVEd to ``TIERII_FEEDBACK_PROCESSED_FOLDER`` (COPY, then \\Deleted and
UID EXPUNGE where the server has no MOVE), or flagged ``$TierIIProcessed`` and \\Seen when the
setting is empty. Messages are read with ``BODY.PEEK[]``: reading marks nothing.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from tierii_core.errors import ConfigurationError, RunStopped
from tierii_feedback.processor import Handled, Processor
from tierii_feedback.settings import ImapSettings

PROCESSED_FLAG = b"$TierIIProcessed"
_FETCH_CHUNK = 50


def client_context(settings: ImapSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _refused(settings: ImapSettings, exc: ssl.SSLCertVerificationError) -> str:
    detail = exc.verify_message or exc.reason or str(exc)
    trusted = f"the CA in {settings.ca_file}" if settings.ca_file else "the system's CAs"
    return (
        f"the TLS certificate of {settings.where} was refused ({detail}; checked against {trusted}). "
        "If a private CA signed it, set TIERII_IMAP_CA_FILE to that CA's PEM file"
    )


@contextmanager
def connect(settings: ImapSettings) -> Iterator[Any]:
    """A logged-in IMAPClient; clear errors (exit 2 for settings, 3 for a server that is away)."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    problem = settings.problem()
    if problem:
        raise ConfigurationError(problem)
    context = client_context(settings)
    try:
        client = IMAPClient(
            settings.host,
            settings.effective_port,
            ssl=settings.security == "ssl",
            ssl_context=context,
            timeout=settings.timeout,
        )
        if settings.security == "starttls":
            client.starttls(context)
    except ssl.SSLCertVerificationError as exc:
        raise ConfigurationError(_refused(settings, exc)) from None
    except (OSError, IMAPClientError) as exc:
        raise RunStopped(f"IMAP server {settings.where}: cannot connect: {exc}; try again later") from None
    try:
        try:
            client.login(settings.username, settings.password.reveal())
        except LoginError:
            raise ConfigurationError(
                f"IMAP server {settings.where} refused TIERII_IMAP_USERNAME={settings.username!r} "
                "with that password (TIERII_IMAP_PASSWORD)"
            ) from None
        yield client
    except (TimeoutError, OSError, IMAPClientError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise RunStopped(f"IMAP server {settings.where}: {exc}; safe to run again") from None
    finally:
        with suppress(Exception):  # the connection may already be gone: nothing to save
            client.logout()


def select(client: Any, settings: ImapSettings) -> None:
    from imapclient.exceptions import IMAPClientError

    try:
        client.select_folder(settings.folder)
    except IMAPClientError as exc:
        raise ConfigurationError(f"TIERII_IMAP_FOLDER={settings.folder!r}: cannot open it: {exc}") from None


def process_folder(
    client: Any,
    processor: Processor,
    processed_folder: str,
    on_message: Callable[[Handled], None],
    should_stop: Callable[[], bool] = lambda: False,
    where: str = "IMAP",
) -> None:
    """Every message of the selected folder not yet set aside, oldest first (``where``: its
    name, for messages: ``INBOX UID 7``)."""
    if processed_folder and not client.folder_exists(processed_folder):
        client.create_folder(processed_folder)
    criteria = ["NOT", "DELETED"] if processed_folder else ["NOT", "DELETED", "UNKEYWORD", PROCESSED_FLAG]
    uids = sorted(client.search(criteria))
    for start in range(0, len(uids), _FETCH_CHUNK):
        chunk = uids[start : start + _FETCH_CHUNK]
        fetched = client.fetch(chunk, ["BODY.PEEK[]"])
        for uid in chunk:
            if should_stop():
                return
            raw = fetched.get(uid, {}).get(b"BODY[]")
            if raw is None:  # expunged by someone else meanwhile
                continue
            handled = processor.handle(raw, f"{where} UID {uid}")
            if handled.set_aside:
                _set_aside(client, uid, processed_folder)
            on_message(handled)


def _set_aside(client: Any, uid: int, processed_folder: str) -> None:
    if not processed_folder:
        client.add_flags([uid], [PROCESSED_FLAG, b"\\Seen"], silent=True)
    elif client.has_capability("MOVE"):
        client.move([uid], processed_folder)
    else:
        client.copy([uid], processed_folder)
        client.delete_messages([uid], silent=True)
        client.uid_expunge([uid]) if client.has_capability("UIDPLUS") else client.expunge()


class Stopper:
    """Ctrl-C and SIGTERM for ``watch``: stop between messages, or at once while idling."""

    def __init__(self) -> None:
        self.stopped = False
        self.idling = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.stopped = True
        if self.idling:
            raise KeyboardInterrupt  # out of the IDLE wait; the loop says DONE and logs out


def watch(
    settings: ImapSettings,
    processor: Processor,
    processed_folder: str,
    on_message: Callable[[Handled], None],
    stopper: Stopper,
    on_idle: Callable[[bool], None] = lambda idle: None,
    on_waiting: Callable[[], None] = lambda: None,
) -> None:
    """Process the folder, then wait in IDLE (or poll) for more, until ``stopper`` says stop.

    A server announces in IDLE only what arrives while idling (Dovecot does not announce mail
    that came between the last command and IDLE), so a NOOP after each pass asks again, and
    ``on_waiting`` is called once the server has confirmed that it is idling.
    """
    with connect(settings) as client:
        select(client, settings)
        idle = client.has_capability("IDLE")
        on_idle(idle)
        while not stopper.stopped:
            process_folder(
                client, processor, processed_folder, on_message, lambda: stopper.stopped, settings.folder
            )
            if stopper.stopped:
                break
            if _new_mail(client.noop()):
                continue
            _wait(client, settings, stopper, idle, on_waiting)


def _new_mail(noop: Any) -> bool:
    _, responses = noop
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


def _wait(
    client: Any, settings: ImapSettings, stopper: Stopper, idle: bool, on_waiting: Callable[[], None]
) -> None:
    if not idle:  # a server without IDLE: poll (the NOOP before the next pass shows new mail)
        stopper.idling = True
        try:
            on_waiting()
            if not stopper.stopped:
                time.sleep(settings.idle_seconds)  # a signal's KeyboardInterrupt ends it
        except KeyboardInterrupt:
            pass
        finally:
            stopper.idling = False
        return
    client.idle()
    try:
        stopper.idling = True
        on_waiting()
        if not stopper.stopped:
            client.idle_check(timeout=settings.idle_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        stopper.idling = False
        client.idle_done()
