"""The MailerSend webhook endpoint: Starlette (ASGI) served by uvicorn, like the core's
unsubscribe endpoint.

``POST`` only. The raw body is checked against the ``Signature`` header before anything else
is read from it; a missing or wrong signature is 401 and changes nothing. A genuine hard
bounce, spam complaint or unsubscribe (legacy or Webhooks 2.0 payload) puts its recipient on
the suppression list at once; other events are acknowledged (200) and ignored. MailerSend's
``webhook.test`` ping, signed with its public test secret, is answered 200 and changes nothing
(a webhook whose test fails cannot be saved). MailerSend gives up on a call after 3 s (and
retries after 10 s and 100 s), so the answer comes as soon as the suppression is written;
the write runs off the event loop.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tierii_core.logs import get_logger
from tierii_core.models import Secret
from tierii_core.suppression import Suppressor
from tierii_core.web import ReadyServer, read_capped_body, serve_until_stopped
from tierii_mailersend.webhooks import (
    SIGNATURE_HEADER,
    SOURCE,
    MalformedEvent,
    SignatureCheck,
    WebhookEvent,
    is_test_ping,
)

log = get_logger()

DEFAULT_PATH = "/webhooks/mailersend"
#: MailerSend's events are a few kilobytes; anything far larger is not one of them
MAX_BODY = 1024 * 1024


def _refuse(request: Request, status: int, reason: str) -> PlainTextResponse:
    client = request.client.host if request.client else None
    log.warning("webhook.rejected", provider="mailersend", status=status, reason=reason, client=client)
    return PlainTextResponse(reason + "\n", status_code=status)


def _test_ping() -> PlainTextResponse:
    log.info("webhook.test", provider="mailersend")
    return PlainTextResponse("test ping received\n")


def make_app(secret: Secret, state_dir: Path, path: str = DEFAULT_PATH) -> Starlette:
    """The endpoint at ``path``, checking signatures with ``secret`` (one or several,
    comma-separated), suppressing in the state database under ``state_dir``."""
    check = SignatureCheck(secret)  # refuses an empty secret before anything listens
    suppressor = Suppressor(state_dir)

    async def receive(request: Request) -> PlainTextResponse:
        body = await read_capped_body(request, MAX_BODY)
        if body is None:
            return _refuse(request, 413, f"body larger than {MAX_BODY} bytes")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return _refuse(request, 401, "missing Signature header")
        if not check.genuine(body, signature):
            if is_test_ping(body, signature):
                return _test_ping()
            return _refuse(request, 401, "invalid signature")
        try:
            event = WebhookEvent.parse(body)
        except MalformedEvent as exc:
            return _refuse(request, 400, f"malformed event: {exc}")
        if event.is_test:
            return _test_ping()
        reason = event.suppression_reason
        if reason is None:
            log.debug("webhook.ignored", provider="mailersend", type=event.type, event_id=event.event_id)
            return PlainTextResponse(f"ignored: {event.type}\n")
        assert event.recipient is not None  # parse() guarantees it for suppressing events
        try:
            added = await run_in_threadpool(suppressor.suppress, event.recipient, reason, SOURCE)
        except sqlite3.Error as exc:  # e.g. the database locked for too long: MailerSend retries
            log.error(
                "webhook.failed",
                provider="mailersend",
                type=event.type,
                email=event.recipient,
                error=str(exc),
            )
            return PlainTextResponse("could not record the suppression; try again\n", status_code=503)
        log.info(
            "webhook.suppressed",
            provider="mailersend",
            type=event.type,
            email=event.recipient,
            reason=reason,
            detail=event.detail,
            already=not added,
            format=event.format,
            event_id=event.event_id,
            webhook_id=event.webhook_id,
            message_id=event.message_id,
        )
        return PlainTextResponse("suppressed\n" if added else "already suppressed\n")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        suppressor.close()

    app = Starlette(routes=[Route(path, receive, methods=["POST"])], lifespan=lifespan)
    app.state.suppressions = suppressor.suppressions
    app.state.suppressor = suppressor
    return app


#: kept under its old name for code that imported it from here
WebhookServer = ReadyServer


def serve(secret: Secret, state_dir: Path, *, host: str, port: int, path: str = DEFAULT_PATH) -> bool:
    """Serve until Ctrl-C (then return True) or a termination signal; return False at once
    when it cannot listen (uvicorn has logged why)."""
    app = make_app(secret, state_dir, path)
    return serve_until_stopped(
        app, host=host, port=port, path=path, provider="mailersend", state_dir=str(state_dir)
    )
