"""The SNS endpoint for SES notifications: Starlette (ASGI) served by uvicorn, like the core's
unsubscribe endpoint and the MailerSend webhook receiver.

``POST`` only. Every message is checked before it is acted on: its topic (when
``TIERII_SES_NOTIFICATION_TOPICS`` names some; else 403), then its signature (else 401,
changing nothing). A genuine ``SubscriptionConfirmation`` is confirmed by visiting its
``SubscribeURL``; a genuine ``Notification`` carrying a permanent bounce or a complaint puts
its recipients on the suppression list through the core's one suppress path; everything else
is acknowledged (200) and ignored. Bodies larger than :data:`MAX_BODY` are refused (413).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tierii_core.logs import get_logger
from tierii_core.suppression import Suppressor
from tierii_core.web import read_capped_body, serve_until_stopped
from tierii_ses.notifications import SOURCE, MalformedNotification, SesNotification
from tierii_ses.sns import Forged, MalformedMessage, SignatureVerifier, SnsHosts, SnsMessage

log = get_logger()

DEFAULT_PATH = "/notifications/ses"
#: SNS messages are at most 256 KiB, plus the envelope: anything far larger is not one
MAX_BODY = 512 * 1024
TYPE_HEADER = "x-amz-sns-message-type"


def _refuse(request: Request, status: int, reason: str) -> PlainTextResponse:
    client = request.client.host if request.client else None
    log.warning("webhook.rejected", provider="ses", status=status, reason=reason, client=client)
    return PlainTextResponse(reason + "\n", status_code=status)


def make_app(
    state_dir: Path,
    topics: Iterable[str] = (),
    path: str = DEFAULT_PATH,
    *,
    hosts: SnsHosts | None = None,
) -> Starlette:
    """The endpoint at ``path``, accepting messages of ``topics`` (any when empty), suppressing
    in the state database under ``state_dir``. ``hosts`` is where certificates and subscription
    confirmations may be fetched from: SNS's hosts unless a test passes its own."""
    allowed = frozenset(topics)
    sns_hosts = hosts or SnsHosts()
    verifier = SignatureVerifier(sns_hosts)
    suppressor = Suppressor(state_dir)

    async def receive(request: Request) -> PlainTextResponse:
        body = await read_capped_body(request, MAX_BODY)
        if body is None:
            return _refuse(request, 413, f"body larger than {MAX_BODY} bytes")
        try:
            message = SnsMessage.parse(body)
        except MalformedMessage as exc:
            return _refuse(request, 400, f"malformed SNS message: {exc}")
        declared = request.headers.get(TYPE_HEADER)
        if declared is not None and declared != message.type:
            return _refuse(request, 400, f"{TYPE_HEADER} {declared!r} differs from the body's Type")
        if allowed and message.topic_arn not in allowed:
            return _refuse(
                request, 403, f"topic {message.topic_arn} is not in TIERII_SES_NOTIFICATION_TOPICS"
            )
        try:
            await run_in_threadpool(verifier.verify, message)
        except Forged as exc:
            return _refuse(request, 401, f"invalid signature: {exc}")
        if message.type == "SubscriptionConfirmation":
            return await _confirm(request, message)
        if message.type == "UnsubscribeConfirmation":
            log.warning("sns.unsubscribed", topic=message.topic_arn, message_id=message.message_id)
            return PlainTextResponse("noted\n")
        return await _notification(request, message)

    async def _confirm(request: Request, message: SnsMessage) -> PlainTextResponse:
        url = message.subscribe_url
        if not sns_hosts.allows(url):
            return _refuse(request, 400, "SubscribeURL is not an SNS URL")
        try:
            await run_in_threadpool(sns_hosts.fetch, url)
        except OSError as exc:  # URLError is an OSError: SNS resends the confirmation
            log.error("sns.confirmation_failed", topic=message.topic_arn, error=str(exc))
            return PlainTextResponse("could not confirm the subscription; try again\n", status_code=503)
        log.info("sns.subscribed", topic=message.topic_arn, message_id=message.message_id)
        return PlainTextResponse("subscription confirmed\n")

    async def _notification(request: Request, message: SnsMessage) -> PlainTextResponse:
        try:
            event = SesNotification.parse(message.message)
        except MalformedNotification as exc:
            return _refuse(request, 400, f"malformed SES notification: {exc}")
        reason = event.suppression_reason
        if reason is None:
            log.debug(
                "webhook.ignored",
                provider="ses",
                type=event.kind,
                bounce_type=event.bounce_type,
                recipients=list(event.recipients),
                message_id=message.message_id,
            )
            return PlainTextResponse(f"ignored: {event.kind}\n")
        added = 0
        for email in event.recipients:
            try:
                new = await run_in_threadpool(suppressor.suppress, email, reason, SOURCE)
            except sqlite3.Error as exc:  # e.g. the database locked for too long: SNS retries
                log.error("webhook.failed", provider="ses", type=event.kind, email=email, error=str(exc))
                return PlainTextResponse("could not record the suppression; try again\n", status_code=503)
            added += new
            log.info(
                "webhook.suppressed",
                provider="ses",
                type=event.kind,
                email=email,
                reason=reason,
                already=not new,
                message_id=message.message_id,
                ses_message_id=event.mail_message_id,
            )
        return PlainTextResponse(f"suppressed {added} of {len(event.recipients)}\n")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        suppressor.close()

    app = Starlette(routes=[Route(path, receive, methods=["POST"])], lifespan=lifespan)
    app.state.suppressions = suppressor.suppressions
    return app


def serve(state_dir: Path, topics: Iterable[str], *, host: str, port: int, path: str = DEFAULT_PATH) -> bool:
    """Serve until Ctrl-C (then return True) or a termination signal; return False at once
    when it cannot listen (uvicorn has logged why). Certificates come from SNS's hosts only."""

    topics = tuple(topics)
    app = make_app(state_dir, topics, path)
    if not topics:
        log.warning(
            "sns.any_topic",
            detail="TIERII_SES_NOTIFICATION_TOPICS is empty: messages from any SNS topic are accepted",
        )

    return serve_until_stopped(
        app, host=host, port=port, path=path, provider="ses", state_dir=str(state_dir), topics=list(topics)
    )
