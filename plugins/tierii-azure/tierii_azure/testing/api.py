"""The ACS email data plane, as documented (API versions 2023-03-31 and 2025-09-01):

- ``POST /emails:send?api-version=V``: 202, ``Operation-Location`` and ``{"id", "status": "Running"}``;
- ``GET /emails/operations/{id}?api-version=V``: 200 with ``Running`` (and ``retry-after``),
  then ``Succeeded`` or ``Failed`` with ``{"error": {"code", "message"}}``;
- errors as ``{"error": {"code", "message"}}`` with ``x-ms-error-code``: 400 for a bad request,
  401 for a bad signature or token, 404 for an unknown operation, 429 with ``Retry-After``.

Limits count requests in sliding windows, per operation (Send Email, Get Email Status).
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from attrs import field, frozen

from tierii_azure.testing import auth
from tierii_azure.testing.records import AcceptedMessage, Journal, RequestRecord

API_VERSIONS = ("2023-03-31", "2024-07-01-preview", "2025-09-01")
MAX_RECIPIENTS = 50  # documented: recipients (to + cc + bcc) in one email
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # documented: total email request size


@frozen
class RateLimit:
    """At most ``count`` requests in any ``window`` seconds."""

    count: int
    window: float = 60.0


@frozen
class Answer:
    status: int
    headers: Mapping[str, str] = field(factory=dict)
    body: Any = None
    drop: bool = False  # close the connection instead of answering (the answer is lost)

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def error(status: int, code: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"x-ms-error-code": code, **headers}, {"error": {"code": code, "message": message}})


class _Window:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.times: deque[float] = deque()

    def take(self, now: float) -> float:
        """0 when the request fits; else the seconds until it would."""
        while self.times and self.times[0] + self.limit.window <= now:
            self.times.popleft()
        if len(self.times) >= self.limit.count:
            return self.times[0] + self.limit.window - now
        self.times.append(now)
        return 0.0


class Faults:
    """Scripted misbehaviour: 429 bursts, recipients whose operation fails or never ends."""

    def __init__(self) -> None:
        self.throttle_sends = 0
        self.throttle_retry_after = 1
        self.failing: dict[str, tuple[str, str]] = {}
        self.hanging: set[str] = set()
        self.lose_answer: set[str] = set()
        self.lose_request: set[str] = set()

    def throttle(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` send requests get 429 with ``Retry-After: retry_after``."""
        self.throttle_sends, self.throttle_retry_after = count, retry_after

    def fail(self, recipient: str, code: str = "EmailDropped", message: str = "") -> None:
        """Operations for ``recipient`` end ``Failed`` (the documented example's error by default)."""
        self.failing[recipient.lower()] = (
            code,
            message or "Email was dropped after several attempts to deliver.",
        )

    def lose(self, recipient: str, *, accepted: bool) -> None:
        """Sends to ``recipient`` get no answer: the connection closes after the message was
        ``accepted`` (an operation exists) or before (nothing happened)."""
        (self.lose_answer if accepted else self.lose_request).add(recipient.lower())

    def hang(self, recipient: str) -> None:
        """Operations for ``recipient`` stay ``Running`` for ever."""
        self.hanging.add(recipient.lower())


class Resource:
    """One Communication Services resource: keys, tokens, limits, operations and messages."""

    def __init__(
        self,
        *,
        keys: Collection[str],
        limits: Mapping[str, RateLimit | None],
        verified_domains: Collection[str] | None,
        processing_time: float,
        poll_after: int | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.keys = list(keys)
        self.tokens: dict[str, float] = {}  # bearer token -> expiry (wall clock)
        self.windows = {name: _Window(limit) for name, limit in limits.items() if limit is not None}
        self.verified_domains = (
            {d.lower() for d in verified_domains} if verified_domains is not None else None
        )
        self.processing_time = processing_time
        self.poll_after = poll_after
        self.clock = clock
        self.wall_clock = wall_clock
        self.faults = Faults()
        self.journal = Journal()
        self.operations: dict[str, tuple[AcceptedMessage, float]] = {}
        self.throttled = {"send": 0, "status": 0}
        self._lock = threading.Lock()
        self.base_url = ""

    # -- what tests read --------------------------------------------------------------------

    @property
    def accepted(self) -> list[AcceptedMessage]:
        with self._lock:
            return [message for message, _ in self.operations.values()]

    def settle(self) -> None:
        """Decide every operation that is due (as a poll would)."""
        with self._lock:
            for operation_id in list(self.operations):
                self._progress(operation_id)

    @property
    def delivered(self) -> list[AcceptedMessage]:
        self.settle()
        return [m for m in self.accepted if m.status == "Succeeded"]

    # -- requests ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        operation = (
            "send"
            if (method, parts.path) == ("POST", "/emails:send")
            else "status"
            if method == "GET" and parts.path.startswith("/emails/operations/")
            else "other"
        )
        answer = self._answer(operation, method, target, parts, headers, body)
        self.journal.add(RequestRecord(method, parts.path, operation, answer.status))
        return answer

    def _answer(
        self, operation: str, method: str, target: str, parts: Any, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        if operation == "other":
            return error(404, "NotFound", f"{method} {parts.path} is not an operation of this API")
        problem = self._authenticate(method, target, headers, body)
        if problem is not None:
            return error(401, "Denied", "Denied by the resource provider.", **{"x-tierii-why": problem})
        version = parse_qs(parts.query).get("api-version", [""])[0]
        if not version:
            return error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        if version not in API_VERSIONS:
            return error(400, "UnsupportedApiVersion", f"The api-version '{version}' is not supported.")
        wait = self._throttle(operation)
        if wait is not None:
            return error(
                429,
                "TooManyRequests",
                "The request was throttled: too many requests. Retry after the time in Retry-After.",
                **{"Retry-After": str(wait)},
            )
        if operation == "send":
            return self._send(version, headers, body)
        return self._status(parts.path.rsplit("/", 1)[-1])

    def _authenticate(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> str | None:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return auth.check_bearer(headers, self._token_valid)
        return auth.check_hmac(self.keys, method, target, headers, body, self.wall_clock())

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self.tokens.get(token)
        return expiry is not None and expiry > self.wall_clock()

    def issue_token(self, lifetime: float = 3600.0) -> tuple[str, float]:
        token = f"local-entra-{uuid.uuid4().hex}"
        expiry = self.wall_clock() + lifetime
        with self._lock:
            self.tokens[token] = expiry
        return token, expiry

    def _throttle(self, operation: str) -> int | None:
        """None, or the whole seconds of Retry-After (ACS sends whole seconds)."""
        with self._lock:
            if operation == "send" and self.faults.throttle_sends > 0:
                self.faults.throttle_sends -= 1
                self.throttled[operation] += 1
                return self.faults.throttle_retry_after
            window = self.windows.get(operation)
            wait = window.take(self.clock()) if window is not None else 0.0
            if wait > 0:
                self.throttled[operation] += 1
                return max(1, math.ceil(wait))
        return None

    def _send(self, version: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if len(body) > MAX_REQUEST_BYTES:
            return error(413, "RequestEntityTooLarge", "The total email request size is over 10 MB.")
        try:
            request = json.loads(body)
        except ValueError:
            return error(400, "InvalidRequestBody", "The request body is not valid JSON.")
        problem = _invalid(request)
        if problem is not None:
            return error(400, "BadRequest", problem)
        sender = request["senderAddress"]
        domain = sender.rpartition("@")[2].lower()
        if self.verified_domains is not None and domain not in self.verified_domains:
            return error(
                400, "DomainNotLinked", f"The sender domain '{domain}' is not linked to this resource."
            )
        operation_id = headers.get("operation-id") or str(uuid.uuid4())
        try:
            uuid.UUID(operation_id)
        except ValueError:
            return error(400, "InvalidOperationId", "Operation-Id must be a UUID.")
        to = request["recipients"]["to"][0]
        if to["address"].lower() in self.faults.lose_request:
            return Answer(0, drop=True)
        content = request["content"]
        message = AcceptedMessage(
            operation_id=operation_id,
            sender=sender,
            recipient=to["address"],
            recipient_name=to.get("displayName"),
            subject=content["subject"],
            text=content.get("plainText"),
            html=content.get("html"),
            reply_to=list(request.get("replyTo") or []),
            headers=dict(request.get("headers") or {}),
        )
        with self._lock:
            if operation_id in self.operations:
                return error(409, "OperationIdAlreadyExists", f"An operation with id {operation_id} exists.")
            self.operations[operation_id] = (message, self.clock())
        if message.recipient.lower() in self.faults.lose_answer:
            return Answer(0, drop=True)
        answer_headers = {
            "Operation-Location": f"{self.base_url}/emails/operations/{operation_id}?api-version={version}"
        }
        if self.poll_after is not None:
            answer_headers["retry-after"] = str(self.poll_after)
        return Answer(202, answer_headers, {"id": operation_id, "status": "Running"})

    def _progress(self, operation_id: str) -> AcceptedMessage:
        """Move an operation on to its final status when it is due (lock held)."""
        message, accepted_at = self.operations[operation_id]
        recipient = message.recipient.lower()
        due = self.clock() >= accepted_at + self.processing_time
        if message.status == "Running" and due and recipient not in self.faults.hanging:
            if recipient in self.faults.failing:
                code, text = self.faults.failing[recipient]
                message.status, message.error = "Failed", {"code": code, "message": text}
            else:
                message.status = "Succeeded"
        return message

    def _status(self, operation_id: str) -> Answer:
        with self._lock:
            if operation_id not in self.operations:
                return error(404, "NotFound", f"No operation with id {operation_id}.")
            message = self._progress(operation_id)
            body: dict[str, Any] = {"id": operation_id, "status": message.status}
            if message.error is not None:
                body["error"] = dict(message.error)
        headers = {}
        if message.status == "Running" and self.poll_after is not None:
            headers["retry-after"] = str(self.poll_after)
        return Answer(200, headers, body)


def _invalid(request: Any) -> str | None:
    """Why an EmailMessage is refused (the schema's required fields, the documented limits)."""
    if not isinstance(request, dict):
        return "The request body must be an EmailMessage object."
    sender = request.get("senderAddress")
    if not isinstance(sender, str) or sender.count("@") != 1:
        return "senderAddress is required and must be an email address."
    content = request.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("subject"), str):
        return "content.subject is required."
    if not (content.get("plainText") or content.get("html")):
        return "content needs plainText or html."
    recipients = request.get("recipients")
    if not isinstance(recipients, dict) or not recipients.get("to"):
        return "recipients.to needs at least one address."
    everyone = [a for kind in ("to", "cc", "bcc") for a in recipients.get(kind) or []]
    if len(everyone) > MAX_RECIPIENTS:
        return f"At most {MAX_RECIPIENTS} recipients per email."
    for address in everyone:
        if not isinstance(address, dict) or str(address.get("address", "")).count("@") != 1:
            return f"Invalid recipient address: {address!r}."
    headers = request.get("headers")
    if headers is not None and (
        not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
    ):
        return "headers must map names to string values."
    return None
