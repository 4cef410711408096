"""The local ACS is faithful where it matters: signatures checked exactly as azure-core makes
them, the documented answers (202 + Operation-Location, error bodies, 429 + Retry-After)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests
from azure.communication.email import EmailClient
from azure.communication.email._shared.policy import HMACCredentialsPolicy
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierii_azure.testing import DEFAULT_KEY, LocalAcs, RateLimit
from tierii_azure.testing.auth import check_hmac

MESSAGE = {
    "senderAddress": "shop@example.com",
    "content": {"subject": "Hi", "plainText": "Hello"},
    "recipients": {"to": [{"address": "ada@example.com"}]},
}


def sdk(acs: LocalAcs, key: str = DEFAULT_KEY, **kwargs: Any) -> EmailClient:
    return EmailClient(acs.endpoint, AzureKeyCredential(key), retry_total=0, **kwargs)


# -- signatures ------------------------------------------------------------------------------

path_part = st.text(st.sampled_from("abcXYZ019-._~"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=st.lists(path_part, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    query=st.dictionaries(path_part, path_part, max_size=3),
    body=st.text(max_size=300),
)
def test_the_check_accepts_exactly_what_azure_core_signs(
    method: str, path: str, query: dict[str, str], body: str
) -> None:
    """azure-core's own HMAC policy signs; the local ACS's check must accept it, and refuse it
    with the other key, another body or another path."""
    request = HttpRequest(method, f"https://acs.example:8443{path}", params=query, content=body)
    HMACCredentialsPolicy("https://acs.example:8443", DEFAULT_KEY).on_request(
        PipelineRequest(request, PipelineContext(None))
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "acs.example:8443"  # what the HTTP client sends for this URL
    target = request.url.split("acs.example:8443", 1)[1]
    raw = body.encode()
    assert check_hmac([DEFAULT_KEY], method, target, headers, raw, time.time()) is None
    other = base64.b64encode(b"another key").decode()
    assert check_hmac([other], method, target, headers, raw, time.time()) is not None
    assert check_hmac([DEFAULT_KEY], method, target, headers, raw + b"x", time.time()) is not None
    assert check_hmac([DEFAULT_KEY], method, target + "x", headers, raw, time.time()) is not None


def test_a_body_changed_after_signing_is_401() -> None:
    def tamper(request: Any) -> None:
        request.http_request.data = request.http_request.data.replace("Hello", "Hacked")

    with LocalAcs() as acs:
        with pytest.raises(ClientAuthenticationError) as raised:
            sdk(acs).begin_send(MESSAGE, raw_request_hook=tamper)
        assert raised.value.status_code == 401
        assert acs.accepted == []


def test_a_stale_date_is_401() -> None:
    with LocalAcs(wall_clock=lambda: time.time() + 3600) as acs:
        with pytest.raises(ClientAuthenticationError):
            sdk(acs).begin_send(MESSAGE)
        assert acs.accepted == []


def test_a_wrong_key_is_401_with_the_documented_body() -> None:
    with LocalAcs() as acs:
        with pytest.raises(ClientAuthenticationError) as raised:
            sdk(acs, key=base64.b64encode(b"nope").decode()).begin_send(MESSAGE)
        assert raised.value.response.status_code == 401
        assert raised.value.response.json() == {
            "error": {"code": "Denied", "message": "Denied by the resource provider."}
        }
        assert raised.value.response.headers["x-ms-error-code"] == "Denied"


def test_azure_core_refuses_bearer_tokens_over_plain_http() -> None:
    """Why the local ACS speaks https for Entra ID: the SDK will not send a token in clear."""

    class Token:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("t", int(time.time()) + 3600)

    with LocalAcs() as acs, pytest.raises(ServiceRequestError, match="non-TLS"):
        EmailClient(acs.endpoint, Token(), retry_total=0).begin_send(MESSAGE)


# -- answers ---------------------------------------------------------------------------------


def test_send_answers_202_with_operation_location_then_the_final_status() -> None:
    with LocalAcs(poll_after=0) as acs:
        poller = sdk(acs, polling_interval=0.01).begin_send(
            MESSAGE, operation_id="8540c0de-899f-5cce-acb5-3ec493af3800"
        )
        assert poller.result(timeout=10) == {
            "id": "8540c0de-899f-5cce-acb5-3ec493af3800",
            "status": "Succeeded",
        }
        [message] = acs.delivered
        assert (message.recipient, message.subject, message.text) == ("ada@example.com", "Hi", "Hello")


def test_a_failed_operation_carries_the_documented_error() -> None:
    with LocalAcs() as acs:
        acs.faults.fail("ada@example.com")
        poller = sdk(acs, polling_interval=0.01).begin_send(MESSAGE)
        with pytest.raises(HttpResponseError) as raised:
            poller.result(timeout=10)
        assert raised.value.response.json()["status"] == "Failed"
        assert raised.value.response.json()["error"] == {
            "code": "EmailDropped",
            "message": "Email was dropped after several attempts to deliver.",
        }
        assert acs.delivered == []


def raw(acs: LocalAcs, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
    """A request signed by azure-core's own policy, sent with plain requests."""
    data = json.dumps(body) if body is not None else ""
    request = HttpRequest(method, acs.endpoint + path, content=data, headers=headers)
    HMACCredentialsPolicy(acs.endpoint, DEFAULT_KEY).on_request(
        PipelineRequest(request, PipelineContext(None))
    )
    return requests.request(method, request.url, data=data.encode(), headers=dict(request.headers), timeout=5)


def test_a_missing_or_unknown_api_version_is_400() -> None:
    with LocalAcs() as acs:
        answer = raw(acs, "POST", "/emails:send", MESSAGE)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "MissingApiVersionParameter"
        answer = raw(acs, "POST", "/emails:send?api-version=1999-01-01", MESSAGE)
        assert (answer.status_code, answer.headers["x-ms-error-code"]) == (400, "UnsupportedApiVersion")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"senderAddress": "nobody"}, "senderAddress is required"),
        ({"content": {"plainText": "no subject"}}, "content.subject is required"),
        ({"recipients": {"to": []}}, "recipients.to needs at least one address"),
        (
            {"recipients": {"to": [{"address": f"p{i}@example.com"} for i in range(51)]}},
            "At most 50 recipients",
        ),
        ({"headers": {"X-Count": 3}}, "headers must map names to string values"),
    ],
)
def test_invalid_messages_are_400_with_an_error_body(change: dict[str, Any], expected: str) -> None:
    with LocalAcs() as acs:
        answer = raw(acs, "POST", "/emails:send?api-version=2025-09-01", {**MESSAGE, **change})
        assert answer.status_code == 400
        assert expected in answer.json()["error"]["message"]
        assert acs.accepted == []


def test_an_unknown_operation_is_404_and_a_reused_operation_id_409() -> None:
    with LocalAcs() as acs:
        answer = raw(
            acs, "GET", "/emails/operations/5e0c0c36-0d6f-4a2b-a5a1-b2d52e0b7c47?api-version=2025-09-01"
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "NotFound")
        same = {"Operation-Id": "5e0c0c36-0d6f-4a2b-a5a1-b2d52e0b7c47"}
        first = raw(acs, "POST", "/emails:send?api-version=2025-09-01", MESSAGE, **same)
        assert first.status_code == 202
        assert first.headers["Operation-Location"] == (
            f"{acs.endpoint}/emails/operations/5e0c0c36-0d6f-4a2b-a5a1-b2d52e0b7c47?api-version=2025-09-01"
        )
        assert first.json() == {"id": "5e0c0c36-0d6f-4a2b-a5a1-b2d52e0b7c47", "status": "Running"}
        again = raw(acs, "POST", "/emails:send?api-version=2025-09-01", MESSAGE, **same)
        assert again.status_code == 409
        assert len(acs.accepted) == 1


def test_limits_answer_429_with_retry_after_per_operation() -> None:
    fake_now = [100.0]
    with LocalAcs(limits={"send": RateLimit(2, 60.0), "status": None}, clock=lambda: fake_now[0]) as acs:
        answers = [raw(acs, "POST", "/emails:send?api-version=2025-09-01", MESSAGE) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert answers[2].headers["Retry-After"] == "60"
        assert answers[2].json()["error"]["code"] == "TooManyRequests"
        fake_now[0] += 45.5
        answer = raw(acs, "POST", "/emails:send?api-version=2025-09-01", MESSAGE)
        assert (answer.status_code, answer.headers["Retry-After"]) == (429, "15")
        fake_now[0] += 15
        assert raw(acs, "POST", "/emails:send?api-version=2025-09-01", MESSAGE).status_code == 202
        assert acs.throttled == {"send": 2, "status": 0}
