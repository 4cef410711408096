"""Pieces every HTTP receiver of TierII shares (webhooks, SNS notifications): a uvicorn server
that says when it listens, and a request body read with a cap.

Imported only by the commands that serve: uvicorn and starlette stay out of ``tierii --help``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.requests import Request


class ReadyServer(uvicorn.Server):
    """uvicorn's server with a :attr:`ready` event set once it listens, and the :attr:`port`
    it got (``port=0`` picks a free one): tests wait on the event, never on a clock."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[ReadyServer], None] | None = None) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._on_ready = on_ready

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            if self._on_ready is not None:  # before the event: a waiter sees its effects
                self._on_ready(self)
            self.ready.set()

    @property
    def port(self) -> int:
        return self.servers[0].sockets[0].getsockname()[1]


async def read_capped_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to be larger than ``limit`` bytes (the
    declared Content-Length, or the bytes received): nothing larger is ever held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def serve_until_stopped(app: Any, *, host: str, port: int, path: str, provider: str, **fields: Any) -> bool:
    """Serve ``app`` until Ctrl-C (then True) or a termination signal; False at once when it
    cannot listen (uvicorn has logged why). Logs ``webhook.listening`` with the URL (and
    ``fields``) once it listens, and ``webhook.stopped``."""
    from tierii_core.logs import get_logger

    log = get_logger()
    shown = f"[{host}]" if ":" in host else host

    def announce(server: ReadyServer) -> None:
        log.info("webhook.listening", provider=provider, url=f"http://{shown}:{server.port}{path}", **fields)

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", proxy_headers=True, access_log=False
    )
    server = ReadyServer(config, on_ready=announce)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it has shut down for
        pass
    except SystemExit:  # uvicorn exits when it cannot bind
        return False
    if server.started:
        log.info("webhook.stopped", provider=provider)
    return server.started
