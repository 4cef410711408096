"""The SNS endpoint over real HTTP on 127.0.0.1: uvicorn in a thread on a free port, SNS's
messages signed by the local SNS (a test CA's certificate served over https on 127.0.0.1),
the suppression list read back, and a campaign afterwards that leaves the suppressed out."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from structlog.testing import capture_logs

from tierii_core.suppression import SuppressionList
from tierii_core.web import ReadyServer
from tierii_ses.notification_server import DEFAULT_PATH, MAX_BODY, make_app
from tierii_ses.testing.sns import TOPIC, LocalSns, bounce, complaint, delivery, post


@pytest.fixture(scope="module")
def sns() -> Iterator[LocalSns]:
    with LocalSns() as local:
        yield local


@contextmanager
def running(state: Path, sns: LocalSns | None, topics: tuple[str, ...] = ()) -> Iterator[str]:
    app = make_app(state, topics, hosts=sns.hosts if sns else None)
    server = ReadyServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10), "the endpoint did not start"
        yield f"http://127.0.0.1:{server.port}{DEFAULT_PATH}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def endpoint(tmp_path: Path, sns: LocalSns) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "state"
    with running(state, sns) as url:
        yield url, state


def entries(state: Path) -> list[tuple[str, str, str]]:
    return [(s.entry, s.reason, s.source) for s in SuppressionList(state, read_only=True)]


def test_a_permanent_bounce_suppresses_its_recipients(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, state = endpoint
    with capture_logs() as logs:
        answer = post(url, sns.notification(bounce(["Ann@Example.com", "ben@example.com"])))
    assert answer == (200, "suppressed 2 of 2\n")
    assert entries(state) == [
        ("ann@example.com", "ses: permanent bounce (General)", "ses-notification"),
        ("ben@example.com", "ses: permanent bounce (General)", "ses-notification"),
    ]
    assert [e["email"] for e in logs if e["event"] == "webhook.suppressed"] == [
        "Ann@Example.com",
        "ben@example.com",
    ]


def test_a_complaint_suppresses(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, state = endpoint
    assert post(url, sns.notification(complaint(["cat@example.com"], event=True), version="2"))[0] == 200
    assert entries(state) == [("cat@example.com", "ses: complaint (abuse)", "ses-notification")]


@pytest.mark.parametrize(
    "event",
    [
        bounce(["ann@example.com"], "Transient", "MailboxFull"),
        bounce(["ann@example.com"], "Undetermined"),
        delivery(["ann@example.com"]),
    ],
)
def test_transient_bounces_and_deliveries_suppress_nobody(
    endpoint: tuple[str, Path], sns: LocalSns, event: dict
) -> None:
    url, state = endpoint
    status, text = post(url, sns.notification(event))
    assert status == 200 and text.startswith("ignored: ")
    assert entries(state) == []


def test_a_repeated_notification_keeps_the_first_reason(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, state = endpoint
    SuppressionList(state).add(["ann@example.com"], "asked by phone", "manual")
    assert post(url, sns.notification(bounce(["ann@example.com"]))) == (200, "suppressed 0 of 1\n")
    assert entries(state) == [("ann@example.com", "asked by phone", "manual")]


def test_a_subscription_is_confirmed_at_its_subscribe_url(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, _ = endpoint
    message = sns.subscription_confirmation(token="tok-123")
    assert post(url, message) == (200, "subscription confirmed\n")
    assert sns.confirmations[-1] == "tok-123"


# -- refused -----------------------------------------------------------------------------------


def test_a_forged_bounce_is_401_and_changes_nothing(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, state = endpoint
    genuine = sns.notification(bounce(["ann@example.com"]))
    forged = sns.sign({k: v for k, v in genuine.items() if k != "Signature"}, forged=True)
    tampered = {**genuine, "Message": json.dumps(bounce(["ceo@example.com"]))}
    with capture_logs() as logs:
        assert post(url, forged)[0] == 401
        assert post(url, tampered)[0] == 401
    assert entries(state) == []
    assert [e["status"] for e in logs if e["event"] == "webhook.rejected"] == [401, 401]


def test_a_forged_subscription_confirmation_is_never_visited(
    endpoint: tuple[str, Path], sns: LocalSns
) -> None:
    url, _ = endpoint
    before = list(sns.confirmations)
    message = sns.subscription_confirmation(token="real")
    message["SubscribeURL"] = message["SubscribeURL"].replace("real", "attacker")
    assert post(url, message)[0] == 401
    assert sns.confirmations == before


def test_the_production_endpoint_refuses_the_test_certificate(tmp_path: Path, sns: LocalSns) -> None:
    """Without the test kit's explicit hosts, a certificate on 127.0.0.1 is never trusted."""
    with running(tmp_path / "state", None) as url:
        status, text = post(url, sns.notification(bounce(["ann@example.com"])))
    assert status == 401 and "not an SNS certificate URL" in text


def test_a_topic_not_listed_is_403(tmp_path: Path, sns: LocalSns) -> None:
    listed = "arn:aws:sns:us-east-1:123456789012:ours"
    with running(tmp_path / "state", sns, topics=(listed,)) as url:
        assert post(url, sns.notification(bounce(["ann@example.com"]), topic=TOPIC))[0] == 403
        assert post(url, sns.notification(bounce(["ann@example.com"]), topic=listed))[0] == 200
    assert [e[0] for e in entries(tmp_path / "state")] == ["ann@example.com"]


def test_a_body_over_the_cap_is_413_before_it_is_read(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", parts.path)
        connection.putheader("Content-Length", str(MAX_BODY + 1))
        connection.endheaders()  # and no body: the answer comes from the declared length
        response = connection.getresponse()
        assert (response.status, response.read()) == (413, f"body larger than {MAX_BODY} bytes\n".encode())
    finally:
        connection.close()
    assert entries(state) == []


def test_a_body_without_a_length_is_cut_off_at_the_cap(tmp_path: Path) -> None:
    """Chunked, so no Content-Length to refuse it by: reading stops past the limit (driven
    through the ASGI interface, which shows how much was read)."""
    import asyncio

    chunk = b" " * 65536
    total = MAX_BODY // len(chunk) * 4
    read = 0
    answer: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < total}

    async def send(message: dict) -> None:
        answer.append(message)

    scope = {"type": "http", "method": "POST", "path": DEFAULT_PATH, "headers": [], "query_string": b""}
    asyncio.run(make_app(tmp_path / "state")(scope, receive, send))
    assert answer[0]["status"] == 413
    assert read <= MAX_BODY // len(chunk) + 1


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b'{"Type": "Notification"}', 400)],
)
def test_malformed_bodies_are_400(endpoint: tuple[str, Path], body: bytes, status: int) -> None:
    url, _ = endpoint
    assert post(url, body, "Notification")[0] == status


def test_a_type_header_that_contradicts_the_body_is_400(endpoint: tuple[str, Path], sns: LocalSns) -> None:
    url, _ = endpoint
    assert post(url, sns.notification(delivery(["a@example.com"])), "SubscriptionConfirmation")[0] == 400


def test_a_genuine_message_that_is_not_an_ses_notification_is_400(
    endpoint: tuple[str, Path], sns: LocalSns
) -> None:
    url, state = endpoint
    message = sns.notification({"hello": "world"})
    assert post(url, message)[0] == 400
    assert entries(state) == []
