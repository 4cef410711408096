"""The unsubscribe endpoint: RFC 8058 one-click POST, and a confirmation page for people.

Starlette (ASGI) served by uvicorn. The token in the link is verified with the campaign's
secret (constant-time); a genuine request suppresses the address at once. POST answers 200
without redirecting (RFC 8058 §3.2); GET never changes anything (link scanners follow GETs).

A body larger than :data:`MAX_BODY` is refused (413) before it is read whole. The suppression
goes through :class:`~tierii_core.suppression.Suppressor`, off the event loop: written before
the answer when the state database is free, else queued durably and applied when it frees;
either way the answer is 200 and the unsubscribe is honoured by the next send.
"""

from __future__ import annotations

import contextlib
import errno
import html
import socket
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from tierii_core.errors import ConfigurationError
from tierii_core.state import Where
from tierii_core.suppression import Suppressor
from tierii_core.unsubscribe import PARAMETER, UnsubscribeLinks
from tierii_core.web import read_capped_body

#: a one-click body is ``List-Unsubscribe=One-Click``; anything far larger is not one
MAX_BODY = 1024 * 1024

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">{body}</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def make_app(links: UnsubscribeLinks, state_dir: Where) -> Starlette:
    suppressor = Suppressor(state_dir)

    async def endpoint(request: Request) -> Response:
        email = links.verify(request.query_params.get(PARAMETER, ""))
        if email is None:
            if request.method == "POST":
                return PlainTextResponse("invalid or damaged unsubscribe link\n", status_code=400)
            return _page("Invalid link", "<p>This unsubscribe link is not valid.</p>", 400)
        shown = html.escape(email)
        if request.method == "GET":
            form = (
                f"<p>Stop all marketing email to <strong>{shown}</strong>?</p>"
                '<form method="post"><button type="submit">Unsubscribe</button></form>'
            )
            return _page("Unsubscribe", form)
        raw = await read_capped_body(request, MAX_BODY)
        if raw is None:
            return PlainTextResponse(f"body larger than {MAX_BODY} bytes\n", status_code=413)
        body = raw.decode("utf-8", errors="replace")
        one_click = "List-Unsubscribe=One-Click" in body
        reason = "one-click unsubscribe" if one_click else "unsubscribe page"
        await run_in_threadpool(suppressor.suppress, email, reason, "unsubscribe")
        if one_click:
            return PlainTextResponse("unsubscribed\n")
        return _page(
            "Unsubscribed", f"<p><strong>{shown}</strong> will get no more marketing email from us.</p>"
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        suppressor.close()

    app = Starlette(routes=[Route(links.path, endpoint, methods=["GET", "POST"])], lifespan=lifespan)
    app.state.suppressions = suppressor.suppressions
    app.state.suppressor = suppressor
    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a ConfigurationError (exit 2) saying why not:
    a port in use is a usage problem, not a stop."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = " (another server uses it: choose another --port)" if exc.errno == errno.EADDRINUSE else ""
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    return sock


def serve(links: UnsubscribeLinks, state_dir: Where, *, host: str, port: int) -> None:
    import uvicorn

    sock = listen(host, port)
    config = uvicorn.Config(make_app(links, state_dir), log_level="warning", proxy_headers=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it has shut down for
        pass
    finally:
        sock.close()
