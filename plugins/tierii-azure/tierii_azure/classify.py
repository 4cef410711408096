"""What an SDK answer or exception means for one recipient.

Sending is two steps: ``POST /emails:send`` (202: ACS has the message) and polling the
operation until its status is final. Before the 202, a failure means ACS does not have the
message (safe to retry, or permanent for a 400); after it, only the final status says
sent or failed, and a poll that cannot finish leaves the recipient *unknown*.
"""

from __future__ import annotations

import json
from typing import Any

from tierii_core.models import Message, Outcome

PROVIDER = "azure"

#: HTTP statuses of the send request that mean "these credentials or this resource cannot
#: send anything": the run stops (exit 3) rather than failing every recipient
FATAL_STATUSES = {
    401: "the access key or token was refused",
    403: "not allowed to send",
    404: "no such resource",
}


#: 400 codes about the sender, which every message of the campaign shares: stop the run (exit 3,
#: a re-run after the fix sends everyone) rather than fail every recipient for good
SENDER_CODES = {
    "DomainNotLinked": "set TIERII_AZURE_SENDER to a MailFrom address of a domain linked to the resource"
}


class Fatal(Exception):
    """Nothing more can be sent with these settings; the message says why."""


def error_of(response: Any) -> tuple[str, str]:
    """(code, message) from an ACS error body ``{"error": {"code", "message"}}``, or from the status."""
    code = message = ""
    if response is not None:
        try:
            body = json.loads(response.text() or "null")
        except (ValueError, TypeError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message = str(error.get("code") or ""), str(error.get("message") or "")
        code = code or (response.headers.get("x-ms-error-code") or "")
    return code, message


def describe(status: int | None, code: str, message: str) -> str:
    parts = [f"HTTP {status}" if status else "", code, message]
    return ": ".join(p for p in parts if p) or "no details"


def retry_after(response: Any) -> float | None:
    from azure.core.pipeline.policies._utils import parse_retry_after

    for name, scale in (("retry-after", 1.0), ("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        value = response.headers.get(name) if response is not None else None
        if value:
            try:
                return parse_retry_after(value) * scale
            except (ValueError, TypeError):
                return None
    return None


def send_refused(exc: Any, message: Message) -> Outcome:
    """``begin_send`` raised: ACS did not take the message. Raise :class:`Fatal` for 401/403/404."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, HttpResponseError) and exc.response is not None:
        status = exc.response.status_code
        code, text = error_of(exc.response)
        reason = describe(status, code, text)
        if status in FATAL_STATUSES:
            raise Fatal(f"ACS refused the request ({FATAL_STATUSES[status]}): {reason}")
        if status == 400 and code in SENDER_CODES:
            raise Fatal(f"ACS refused the sender: {reason}; {SENDER_CODES[code]}")
        if status == 429:
            return Outcome.transient(message, PROVIDER, f"rate limited: {reason}", retry_after(exc.response))
        if status in (408,) or status >= 500:
            return Outcome.transient(message, PROVIDER, f"not accepted: {reason}", retry_after(exc.response))
        return Outcome.permanent(message, PROVIDER, f"refused: {reason}")
    if isinstance(exc, ServiceResponseError):
        # the request went out and no answer came back: ACS may have the message
        return Outcome.unknown(message, PROVIDER, f"the send request's answer was lost: {exc}")
    if isinstance(exc, ServiceRequestError):
        return Outcome.transient(message, PROVIDER, f"not sent: {exc}")
    return Outcome.unknown(message, PROVIDER, f"the send request failed: {type(exc).__name__}: {exc}")


def final(poller: Any, message: Message, operation_id: str) -> Outcome:
    """The outcome once ``poller`` is done: its final status decides."""
    from azure.core.exceptions import HttpResponseError

    try:
        result = poller.result(timeout=0)
    except HttpResponseError as exc:
        failed = settled(_json(exc.response), message, operation_id)
        if failed is not None:
            return failed
        code, text = error_of(exc.response)
        http = exc.response.status_code if exc.response is not None else None
        return Outcome.unknown(
            message,
            PROVIDER,
            f"accepted (operation {operation_id}), its status could not be read: "
            f"{describe(http, code, text)}",
        )
    except Exception as exc:  # transport errors after the retries, the provider closing
        if type(exc).__name__ == "ClientClosed":
            return Outcome.unknown(
                message,
                PROVIDER,
                f"accepted (operation {operation_id}), the run stopped before its status was known",
            )
        return Outcome.unknown(
            message,
            PROVIDER,
            f"accepted (operation {operation_id}), status unknown: {type(exc).__name__}: {exc}",
        )
    status = result.get("status") if isinstance(result, dict) else None
    return settled(result, message, operation_id) or Outcome.unknown(
        message, PROVIDER, f"operation {operation_id} ended with status {status!r}"
    )


def settled(body: Any, message: Message, operation_id: str) -> Outcome | None:
    """The outcome an operation's status body gives, or None while it is not final."""
    status = body.get("status") if isinstance(body, dict) else None
    if status == "Succeeded":
        return Outcome.sent(message, PROVIDER, str(body.get("id") or operation_id))
    if status in ("Failed", "Canceled"):
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        reason = describe(None, str(error.get("code") or status), str(error.get("message") or ""))
        return Outcome.permanent(message, PROVIDER, f"operation {operation_id} {status.lower()}: {reason}")
    return None


def _json(response: Any) -> Any:
    if response is None:
        return None
    try:
        return json.loads(response.text() or "null")
    except (ValueError, TypeError):
        return None
