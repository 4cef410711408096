"""tierii_core.web: the uvicorn server that says when it listens, and the capped body read."""

from __future__ import annotations

import http.client
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tierii_core.web import ReadyServer, read_capped_body

LIMIT = 1000


async def echo_length(request: Request) -> PlainTextResponse:
    body = await read_capped_body(request, LIMIT)
    return PlainTextResponse("too large" if body is None else str(len(body)))


def post(port: int, body: bytes, chunked: bool = False) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            connection.request("POST", "/", body=iter([body]), encode_chunked=True)
        else:
            connection.request("POST", "/", body=body)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def test_the_server_says_when_it_listens_and_on_which_port() -> None:
    app = Starlette(routes=[Route("/", echo_length, methods=["POST"])])
    announced: list[int] = []
    server = ReadyServer(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"),
        on_ready=lambda s: announced.append(s.port),
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10)
        assert announced == [server.port] and server.port > 0
        assert post(server.port, b"x" * LIMIT) == str(LIMIT)
        assert post(server.port, b"x" * (LIMIT + 1)) == "too large"  # by its Content-Length
        assert post(server.port, b"x" * (LIMIT + 1), chunked=True) == "too large"  # by what arrived
        assert post(server.port, b"x" * 10, chunked=True) == "10"
    finally:
        server.should_exit = True
        thread.join(10)
