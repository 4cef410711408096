"""The emulated MailerSend account: routes, auth, limits, quota, validation and bulk jobs.

Independent of HTTP: :meth:`Account.handle` takes a request's method, path, headers and body
and returns an :class:`Answer`; :mod:`.server` puts it on a socket. Shapes follow the API
documentation and recorded responses (see docs/providers/mailersend.md, "The local MailerSend").
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from attrs import define, field, frozen

from tierii_mailersend.testing.faults import Fault, FaultScript
from tierii_mailersend.testing.limits import DailyQuota, FixedWindow, RateLimit, Verdict, seconds_header
from tierii_mailersend.testing.records import AcceptedMessage, Journal, RequestRecord, message_from_object
from tierii_mailersend.testing.validation import PLANS, invalid_body, validate_email_object

MAX_BULK = 500

#: documented per-minute limits at healthy reputation; "other" covers every other endpoint
DEFAULT_LIMITS: Mapping[str, RateLimit] = {
    "email": RateLimit(120),
    "bulk-email": RateLimit(10),
    "other": RateLimit(60),
}

#: how a completed bulk job keys ``suppressed_recipients``: by the email's message id (as the
#: docs describe it) or by ``message.{index}`` (like ``validation_errors``)
SUPPRESSION_KEYS = ("message_id", "index")

_LIMIT_GROUP = {"email": "email", "bulk-email": "bulk-email", "bulk-status": "other", "api-quota": "other"}


@frozen
class Answer:
    """What to put on the wire: a status, headers and a JSON body (None = empty), or a fault."""

    status: int
    headers: Mapping[str, str] = field(factory=dict)
    body: Any = None
    delay: float = 0.0  # answer only after this many seconds
    drop: bool = False  # close the connection instead of answering

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


@define
class _BulkJob:
    id: str
    objects: list[Any]
    due: float
    created_at: str
    result: dict[str, Any] | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Account:
    """One MailerSend account behind one or more API tokens."""

    def __init__(
        self,
        *,
        tokens: Collection[str],
        verified_domains: Collection[str] | None = None,
        suppressed: Mapping[str, Sequence[str]] | None = None,
        limits: Mapping[str, RateLimit | None] | None = None,
        daily_quota: int | None = None,
        bulk_delay: float = 0.5,
        max_bulk: int = MAX_BULK,
        plan: str = "professional",
        suppression_keys: str = "message_id",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        if plan not in PLANS:
            raise ValueError(f"plan {plan!r}: expected one of {', '.join(PLANS)}")
        if suppression_keys not in SUPPRESSION_KEYS:
            raise ValueError(f"suppression_keys {suppression_keys!r}: expected one of {SUPPRESSION_KEYS}")
        self.plan = plan
        self.suppression_keys = suppression_keys
        self.tokens = set(tokens)
        self.verified_domains = None if verified_domains is None else {d.lower() for d in verified_domains}
        self._suppressed = {k.lower(): list(v) for k, v in (suppressed or {}).items()}
        merged = {**DEFAULT_LIMITS, **(limits or {})}
        self._windows = {
            group: FixedWindow(rate, clock) for group, rate in merged.items() if rate is not None
        }
        self.quota = DailyQuota(daily_quota, wall_clock)
        self.bulk_delay = bulk_delay
        self.max_bulk = max_bulk
        self.faults = FaultScript()
        self.journal = Journal()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._jobs: dict[str, _BulkJob] = {}
        self._prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)

    # -- configuration at run time ---------------------------------------------------------

    def suppress(self, email: str, *reasons: str) -> None:
        """Put a recipient on the account's suppression list (``hard_bounced``, ``blocklisted``...)."""
        with self._lock:
            self._suppressed[email.lower()] = list(reasons) or ["blocklisted"]

    def new_id(self) -> str:
        """A 24-hex-digit id, like MailerSend's."""
        return f"{self._prefix}{next(self._ids):016x}"

    # -- requests ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request (``path`` with its ``/v1/`` prefix; ``headers`` lower-cased)."""
        self.complete_due_jobs()
        endpoint, route = self._route(method, path)
        fault = None
        if route is not None and self.faults.pending:
            recipients = _recipients_in(body) if self.faults.targets_recipients else set()
            fault = self.faults.take(endpoint, recipients)
        if fault is not None and fault.kind == "fail":
            answer = self._fault_answer(fault)
        elif fault is not None and fault.kind == "drop" and not fault.accept:
            answer = Answer(0, drop=True)
        else:
            answer = self._answer(method, path, endpoint, route, headers, body)
            if fault is not None and fault.kind == "slow":
                answer = Answer(answer.status, answer.headers, answer.body, delay=fault.seconds)
            elif fault is not None and fault.kind == "drop":
                answer = Answer(answer.status, drop=True)
        status = None if answer.drop else answer.status
        self.journal.add_request(RequestRecord(method, path, endpoint, status, self._clock()))
        return answer

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., Answer] | None]:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if parts[:1] != ["v1"]:
            return "unknown", None
        rest = parts[1:]
        if rest == ["email"]:
            return "email", self._post_email if method == "POST" else None
        if rest == ["bulk-email"]:
            return "bulk-email", self._post_bulk if method == "POST" else None
        if len(rest) == 2 and rest[0] == "bulk-email":
            return "bulk-status", self._get_bulk if method == "GET" else None
        if rest == ["api-quota"]:
            return "api-quota", self._get_quota if method == "GET" else None
        return "unknown", None

    def _fault_answer(self, fault: Fault) -> Answer:
        headers = {}
        if fault.retry_after is not None:
            headers["retry-after"] = seconds_header(fault.retry_after, fault.retry_after)
        messages = {429: "Too Many Attempts.", 503: "Service Unavailable"}
        return Answer(fault.status, headers, {"message": messages.get(fault.status, "Server Error")})

    def _answer(
        self,
        method: str,
        path: str,
        endpoint: str,
        route: Callable[..., Answer] | None,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Answer:
        if route is None:
            known = endpoint != "unknown"
            status, text = (
                (405, "The method is not supported for this route.") if known else (404, "Not Found")
            )
            return Answer(status, {}, {"message": text})
        token = headers.get("authorization", "")
        if not token.startswith("Bearer ") or token[len("Bearer ") :] not in self.tokens:
            return Answer(401, {}, {"message": "Unauthenticated."})
        extra: dict[str, str] = {}
        window = self._windows.get(_LIMIT_GROUP[endpoint])
        if window is not None:
            verdict = window.hit()
            if not verdict.allowed:  # as recorded: x-ratelimit-* come with a 429 only
                extra.update(_rate_headers(verdict))
                extra["retry-after"] = seconds_header(verdict.retry_after, window.rate.window)
                limit = round(window.rate.per_minute)
                text = f"Your account reached its rate limit of {limit} requests/min."
                text += " Please wait before trying again."
                return Answer(429, extra, {"message": f"{text} #MS42903"})
        if endpoint != "api-quota" and not self.quota.take():
            extra.update(self._quota_headers())
            extra["retry-after"] = str(round(self.quota.seconds_to_reset()))
            text = "You have reached the daily quota of API requests for your plan. #MS42901"
            return Answer(429, extra, {"message": text})
        extra.update(self._quota_headers())
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            return Answer(400, extra, {"message": "The request body is not valid JSON."})
        answer = route(path=path, body=parsed)
        return Answer(answer.status, {**extra, **answer.headers}, answer.body)

    def _quota_headers(self) -> dict[str, str]:
        reset = self.quota.reset_at().strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"x-apiquota-remaining": str(self.quota.remaining), "x-apiquota-reset": reset}

    # -- endpoints ----------------------------------------------------------------------------

    def _post_email(self, *, path: str, body: Any) -> Answer:
        errors = validate_email_object(body, self.verified_domains, self.plan)
        if errors:
            return Answer(422, {}, invalid_body(errors))
        message_id = self.new_id()
        accepted, suppressed = self._split_suppressed(body)
        self.journal.add_messages(message_from_object(body, r, message_id, "email", None) for r in accepted)
        if not suppressed:
            return Answer(202, {"x-message-id": message_id})
        recipients = [
            {"email": r.get("email"), "name": r.get("name"), "reasons": reasons} for r, reasons in suppressed
        ]
        if not accepted:
            warning = {"type": "ALL_SUPPRESSED", "warning": "All of the recipients have been suppressed."}
            return Answer(
                202,
                {},
                {
                    "message": "There are some warnings for your request.",
                    "warnings": [{**warning, "recipients": recipients}],
                },
            )
        warning = {"type": "SOME_SUPPRESSED", "warning": "Some of the recipients have been suppressed."}
        return Answer(
            202,
            {"x-message-id": message_id},
            {
                "message": "There are some warnings for your request.",
                "warnings": [{**warning, "recipients": recipients}],
            },
        )

    def _post_bulk(self, *, path: str, body: Any) -> Answer:
        # inferred: the API checks the array itself at once, the emails in it after acceptance
        if not isinstance(body, list) or not body:
            return Answer(
                422, {}, invalid_body({"messages": ["The messages field is required and must be an array."]})
            )
        if len(body) > self.max_bulk:
            return Answer(
                422,
                {},
                invalid_body({"messages": [f"The messages may not have more than {self.max_bulk} items."]}),
            )
        job = _BulkJob(self.new_id(), body, self._clock() + self.bulk_delay, _iso(self._wall_clock()))
        with self._lock:
            self._jobs[job.id] = job
        self.complete_due_jobs()
        return Answer(202, {}, {"message": "The bulk email is being processed.", "bulk_email_id": job.id})

    def _get_bulk(self, *, path: str, body: Any) -> Answer:
        job_id = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[1]
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return Answer(404, {}, {"message": "Resource not found."})
        return Answer(200, {}, {"data": self._job_status(job)})

    def _get_quota(self, *, path: str, body: Any) -> Answer:
        reset = self.quota.reset_at().strftime("%Y-%m-%dT%H:%M:%SZ")
        quota = -1 if self.quota.quota is None else self.quota.quota  # inferred: -1 as in the headers
        return Answer(200, {}, {"quota": quota, "remaining": self.quota.remaining, "reset": reset})

    # -- bulk jobs ------------------------------------------------------------------------------

    def complete_due_jobs(self) -> None:
        """Process every bulk job whose delay has passed (each exactly once)."""
        now = self._clock()
        with self._lock:
            due = [job for job in self._jobs.values() if job.result is None and job.due <= now]
            for job in due:
                job.result = self._process(job)

    def _process(self, job: _BulkJob) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        suppressed: dict[str, Any] = {}
        ids: list[str] = []
        records: list[AcceptedMessage] = []
        refused_count = 0
        for index, obj in enumerate(job.objects):
            problems = validate_email_object(obj, self.verified_domains, self.plan)
            if problems:
                errors[f"message.{index}"] = problems
                continue
            accepted, refused = self._split_suppressed(obj, locked=True)
            refused_count += len(refused)
            message_id = self.new_id()
            if refused and self.suppression_keys == "index":
                suppressed[f"message.{index}"] = {"to": {r.get("email"): reasons for r, reasons in refused}}
            elif refused:  # inferred inner shape: the recipients of the /v1/email warnings
                suppressed[message_id] = [
                    {"email": r.get("email"), "name": r.get("name"), "reasons": why} for r, why in refused
                ]
            if accepted:
                ids.append(message_id)
                records.extend(
                    message_from_object(obj, r, message_id, "bulk-email", job.id) for r in accepted
                )
        self.journal.add_messages(records)
        return {
            "total_recipients_count": _recipients(job.objects),
            "suppressed_recipients_count": refused_count,
            "suppressed_recipients": suppressed or None,
            "validation_errors_count": len(errors),
            "validation_errors": errors or None,
            "messages_id": ids or None,
            "updated_at": _iso(self._wall_clock()),
        }

    def _job_status(self, job: _BulkJob) -> dict[str, Any]:
        base = {"id": job.id, "state": "queued", "created_at": job.created_at, "updated_at": job.created_at}
        if job.result is None:
            return {
                **base,
                "total_recipients_count": _recipients(job.objects),
                "suppressed_recipients_count": 0,
                "suppressed_recipients": None,
                "validation_errors_count": 0,
                "validation_errors": None,
                "messages_id": None,
            }
        return {**base, "state": "completed", **job.result}

    def _split_suppressed(self, obj: Mapping[str, Any], locked: bool = False) -> tuple[list[Any], list[Any]]:
        """The ``to`` recipients MailerSend delivers to, and the suppressed ones with reasons."""
        if not locked:
            with self._lock:
                return self._split_suppressed(obj, locked=True)
        accepted, refused = [], []
        for recipient in obj.get("to") or ():
            reasons = self._suppressed.get(str(recipient.get("email", "")).lower())
            if reasons:
                refused.append((recipient, list(reasons)))
            else:
                accepted.append(recipient)
        return accepted, refused

    @property
    def messages(self) -> list[AcceptedMessage]:
        self.complete_due_jobs()
        return self.journal.messages

    def pending_jobs(self) -> int:
        with self._lock:
            return sum(job.result is None for job in self._jobs.values())


def _rate_headers(verdict: Verdict) -> dict[str, str]:
    return {"x-ratelimit-limit": str(verdict.limit), "x-ratelimit-remaining": str(verdict.remaining)}


def _recipients(objects: Sequence[Any]) -> int:
    return sum(
        len(o.get("to") or ()) for o in objects if isinstance(o, Mapping) and isinstance(o.get("to"), list)
    )


def _recipients_in(body: bytes) -> set[str]:
    """The lower-cased ``to`` addresses of a request's email object(s), for targeted faults."""
    if not body:
        return set()
    try:
        parsed = json.loads(body)
    except ValueError:
        return set()
    objects = parsed if isinstance(parsed, list) else [parsed]
    return {
        str(r.get("email", "")).lower()
        for o in objects
        if isinstance(o, Mapping) and isinstance(o.get("to"), list)
        for r in o["to"]
        if isinstance(r, Mapping)
    }
