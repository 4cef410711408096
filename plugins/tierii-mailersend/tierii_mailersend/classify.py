"""MailerSend's answers -> one :class:`~tierii_core.models.Outcome` per recipient.

Pure functions over :class:`~tierii_core.models.Message` sequences and :class:`.client.Reply`
data, so every mapping is testable without a server. The rules:

- 2xx from /v1/email: sent with ``x-message-id``; SOME_/ALL_SUPPRESSED warnings that name the
  recipient: permanent, with MailerSend's reasons.
- a completed bulk job: ``validation_errors`` (keyed ``message.{index}``) and
  ``suppressed_recipients`` (keyed ``message.{index}`` or by message id: matched by index, by
  the addresses inside each entry, or by ``messages_id``) fail exactly those recipients; every
  other one is sent. Suppressed recipients that cannot be matched make the unmatched ones
  unknown: a recipient MailerSend reports suppressed is never recorded as sent.
- 422: permanent for the recipients it names; in a bulk request, the others were not sent
  either and are transient (safe to resend); a 422 naming nobody fails the whole request.
  A refusal of a plan-restricted field (``headers``, ``list_unsubscribe``: Professional and
  Enterprise only) is transient: the provider resends without it (:mod:`.unsubscribe`).
- 429 and 5xx: transient, with ``retry-after``; 504 (a gateway gave up waiting, the API may have
  accepted the request) is unknown. Other 4xx: permanent.
- 401/403/404/405 and an exhausted daily quota: nothing can be sent, :class:`FatalProviderError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from tierii_core.errors import FatalProviderError
from tierii_core.models import Message, Outcome
from tierii_mailersend.client import Reply

PROVIDER = "mailersend"

_INDEX_KEY = re.compile(r"^(?:message\.)?(\d+)(?:\.|$)")
#: fields MailerSend accepts on the Professional and Enterprise plans only
PLAN_FIELDS = frozenset({"headers", "list_unsubscribe"})
_FATAL = {
    401: "MailerSend refused the API token (401 {detail}): check TIERII_MAILERSEND_API_TOKEN",
    403: "MailerSend refused the request (403 {detail}): the token lacks email access or the "
    "account may not use the API",
    404: "MailerSend answered 404 {detail}: check TIERII_MAILERSEND_BASE_URL (it must end in /v1/)",
    405: "MailerSend answered 405 {detail}: check TIERII_MAILERSEND_BASE_URL (it must end in /v1/)",
}


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from a ``retry-after`` header (delta-seconds or an HTTP date); None if absent."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds)


def describe(reply: Reply) -> str:
    """The API's own words: ``422 The given data was invalid. (from.email: ...)``."""
    body = reply.body if isinstance(reply.body, dict) else {}
    message = str(body.get("message") or "").strip()
    errors = body.get("errors")
    details = "; ".join(_flatten_errors(errors)) if isinstance(errors, dict) else ""
    text = f"{reply.status} {message}".strip()
    return f"{text} ({details})" if details else text


def _flatten_errors(errors: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in errors.items():
        where = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten_errors(value, f"{where} ")
        elif isinstance(value, (list, tuple)):
            yield f"{where}: {' '.join(str(v) for v in value)}"
        else:
            yield f"{where}: {value}"


def is_daily_quota(reply: Reply) -> bool:
    """A 429 for the daily request quota (#MS42901), as opposed to a per-minute limit."""
    if reply.status != 429:
        return False
    body = reply.body if isinstance(reply.body, dict) else {}
    return "MS42901" in str(body.get("message", "")) or reply.headers.get("x-apiquota-remaining") == "0"


def fatal_reason(reply: Reply) -> str | None:
    """Why nothing can be sent after this answer, or None if it concerns only this request."""
    if reply.status in _FATAL:
        body = reply.body if isinstance(reply.body, dict) else {}
        return _FATAL[reply.status].format(detail=str(body.get("message") or "").strip()).replace(" )", ")")
    if is_daily_quota(reply):
        reset = reply.headers.get("x-apiquota-reset", "00:00 UTC")
        return (
            f"MailerSend's daily API quota is used up ({describe(reply)}); it resets at {reset}: re-run then"
        )
    return None


def _field_errors(errors: Any, index: int | None = None) -> Iterable[tuple[int | None, str, str]]:
    """``(index or None, field, message)`` for every error, keys with or without a
    ``message.{index}.`` prefix, flat (``"message.2.to.0.email"``) or nested."""
    if not isinstance(errors, Mapping):
        return
    for key, value in errors.items():
        key = str(key)
        where = index
        match = _INDEX_KEY.match(key)
        if match and index is None:
            where, key = int(match.group(1)), key[match.end() :]
        if isinstance(value, Mapping):
            if key:
                for _, field, text in _field_errors(value, where):
                    yield where, f"{key}.{field}", text
            else:
                yield from _field_errors(value, where)
        else:
            words = value if isinstance(value, (list, tuple)) else [value]
            yield where, key or "email", " ".join(str(w) for w in words)


def plan_refusals(errors: Any) -> dict[int | None, str]:
    """Where ``errors`` refuse a field of the Professional and Enterprise plans (``headers``,
    ``list_unsubscribe``), with the API's words: ``{index or None: "list_unsubscribe: ..."}``.
    Only the field itself: ``headers.0.name`` is a bad header name, not the plan."""
    return {where: f"{field}: {text}" for where, field, text in _field_errors(errors) if field in PLAN_FIELDS}


def plan_refusal(reply: Reply) -> str | None:
    """The API's words when a 422 refuses a plan-restricted field; None otherwise."""
    if reply.status != 422 or not isinstance(reply.body, Mapping):
        return None
    found = plan_refusals(reply.body.get("errors"))
    return next(iter(found.values()), None)


def refused(reply: Reply, messages: Sequence[Message], *, bulk: bool) -> list[Outcome]:
    """Outcomes for a send request answered with a non-2xx status (raises when fatal)."""
    reason = fatal_reason(reply)
    if reason is not None:
        raise FatalProviderError(reason)
    text = f"MailerSend {describe(reply)}"
    plan = plan_refusal(reply)
    if plan is not None:  # nothing was sent; the provider resends without the field
        return [Outcome.transient(m, PROVIDER, f"not sent, refused for the plan: {plan}") for m in messages]
    if reply.status == 429 or (500 <= reply.status < 600 and reply.status != 504):
        wait = retry_after(reply.headers)
        return [Outcome.transient(m, PROVIDER, text, retry_after=wait) for m in messages]
    if reply.status == 504:
        return lost(messages, f"{text}: the API may have accepted the request")
    if reply.status == 422 and bulk:
        return _refused_bulk(reply, messages, text)
    return [Outcome.permanent(m, PROVIDER, text) for m in messages]


def _refused_bulk(reply: Reply, messages: Sequence[Message], text: str) -> list[Outcome]:
    body = reply.body if isinstance(reply.body, dict) else {}
    named = _errors_by_index(body.get("errors"), len(messages))
    if not named:
        return [Outcome.permanent(m, PROVIDER, text) for m in messages]
    outcomes = []
    for index, message in enumerate(messages):
        if index in named:
            outcomes.append(
                Outcome.permanent(message, PROVIDER, f"MailerSend refused this email: {named[index]}")
            )
        else:
            outcomes.append(
                Outcome.transient(
                    message, PROVIDER, "not sent: MailerSend refused the bulk request for other emails"
                )
            )
    return outcomes


def _errors_by_index(errors: Any, count: int) -> dict[int, str]:
    """``{"message.3": {...}}`` or ``{"3.subject": [...]}`` -> ``{3: "subject: ..."}``."""
    found: dict[int, list[str]] = {}
    if not isinstance(errors, Mapping):
        return {}
    for key, value in errors.items():
        match = _INDEX_KEY.match(str(key))
        if not match or int(match.group(1)) >= count:
            continue
        rest = str(key)[match.end() :]
        if isinstance(value, Mapping):
            details = list(_flatten_errors(value, f"{rest} " if rest else ""))
        else:
            details = list(_flatten_errors({rest or "email": value}))
        found.setdefault(int(match.group(1)), []).extend(details)
    return {index: "; ".join(parts) for index, parts in found.items()}


def lost(messages: Sequence[Message], detail: str) -> list[Outcome]:
    """The request went out and its answer is lost: unknown, never resent blindly."""
    return [
        Outcome.unknown(m, PROVIDER, f"answer lost, MailerSend may have accepted it: {detail}")
        for m in messages
    ]


def not_sent(messages: Sequence[Message], detail: str) -> list[Outcome]:
    """The request never reached MailerSend: transient, safe to resend."""
    return [Outcome.transient(m, PROVIDER, f"not sent, MailerSend unreachable: {detail}") for m in messages]


def accepted_email(reply: Reply, message: Message) -> Outcome:
    """A 2xx from POST /v1/email: sent, unless a suppression warning names the recipient."""
    reasons = _suppressed_in_warnings(reply.body, message.to.email)
    if reasons is not None:
        return Outcome.permanent(message, PROVIDER, _suppressed_reason(reasons))
    return Outcome.sent(message, PROVIDER, reply.headers.get("x-message-id"))


def _suppressed_in_warnings(body: Any, email: str) -> list[str] | None:
    if not isinstance(body, Mapping):
        return None
    for warning in body.get("warnings") or ():
        if not isinstance(warning, Mapping) or warning.get("type") not in {
            "SOME_SUPPRESSED",
            "ALL_SUPPRESSED",
        }:
            continue
        recipients = warning.get("recipients") or ()
        if warning.get("type") == "ALL_SUPPRESSED" and not recipients:
            return []
        for recipient in recipients:
            if isinstance(recipient, Mapping) and str(recipient.get("email", "")).lower() == email.lower():
                return [str(r) for r in recipient.get("reasons") or ()]
    return None


def _suppressed_reason(reasons: Sequence[str]) -> str:
    why = ", ".join(reasons) if reasons else "no reason given"
    return f"suppressed by MailerSend ({why})"


def completed_bulk(
    status: Mapping[str, Any], messages: Sequence[Message], bulk_email_id: str
) -> list[Outcome]:
    """Outcomes from a completed ``GET /v1/bulk-email/{id}``'s ``data``."""
    count = len(messages)
    invalid = _errors_by_index(status.get("validation_errors"), count)
    plan = {i: text for i, text in plan_refusals(status.get("validation_errors")).items() if i is not None}
    ids = status.get("messages_id")
    suppressed, unmatched = _suppressed_by_index(status, messages, ids, invalid.keys())
    failed = invalid.keys() | suppressed.keys()
    message_ids = _message_ids(ids, count, invalid.keys(), failed, bulk_email_id)
    outcomes = []
    for index, message in enumerate(messages):
        if index in plan:
            outcomes.append(
                Outcome.transient(message, PROVIDER, f"not sent, refused for the plan: {plan[index]}")
            )
        elif index in invalid:
            outcomes.append(
                Outcome.permanent(message, PROVIDER, f"MailerSend refused this email: {invalid[index]}")
            )
        elif index in suppressed:
            outcomes.append(Outcome.permanent(message, PROVIDER, _suppressed_reason(suppressed[index])))
        elif unmatched:
            outcomes.append(
                Outcome.unknown(
                    message,
                    PROVIDER,
                    f"bulk request {bulk_email_id}: MailerSend reports {unmatched} suppressed "
                    "recipient(s) it does not name in a way TierII can match; this one may be among them",
                )
            )
        else:
            outcomes.append(Outcome.sent(message, PROVIDER, message_ids[index]))
    return outcomes


def _suppressed_by_index(
    status: Mapping[str, Any], messages: Sequence[Message], ids: Any, invalid: Iterable[int]
) -> tuple[dict[int, list[str]], int]:
    """Which emails MailerSend suppressed (index -> reasons), and how many suppressed
    recipients could not be matched to an email.

    ``suppressed_recipients`` is keyed ``message.{index}`` or by message id (its inner shape is
    undocumented): an entry is matched by its index, else by the addresses inside it, else by
    its key's position in ``messages_id`` (when that lists every valid email, in order).
    A list of ``{email, reasons}`` is matched by address.
    """
    suppressed = status.get("suppressed_recipients")
    by_email = {m.to.email.lower(): i for i, m in enumerate(messages)}
    valid = [i for i in range(len(messages)) if i not in set(invalid)]
    by_id = dict(zip(ids, valid, strict=True)) if isinstance(ids, list) and len(ids) == len(valid) else {}
    found: dict[int, list[str]] = {}
    unmatched = 0
    entries: list[tuple[str | None, Any]] = []
    if isinstance(suppressed, Mapping):
        entries = [(str(key), value) for key, value in suppressed.items()]
    elif isinstance(suppressed, list):
        entries = [(None, value) for value in suppressed]
    for key, value in entries:
        match = _INDEX_KEY.match(key) if key is not None else None
        if match and int(match.group(1)) < len(messages):
            found[int(match.group(1))] = sorted(set(_reason_words(value)))
            continue
        addresses = _addresses_in(value)
        if addresses:
            for address, reasons in addresses.items():
                if address in by_email:
                    found[by_email[address]] = reasons
                else:
                    unmatched += 1
        elif key in by_id:
            found[by_id[key]] = sorted(set(_reason_words(value)))
        else:
            unmatched += 1
    reported = status.get("suppressed_recipients_count")
    if isinstance(reported, int) and reported > len(found) + unmatched:
        unmatched = reported - len(found)
    return found, unmatched


def _addresses_in(value: Any) -> dict[str, list[str]]:
    """``{address: reasons}`` for every address inside one suppression entry, whatever its
    shape: ``{"to": {"x@y": ["blocklisted"]}}``, ``[{"email": "x@y", "reasons": [...]}]``..."""
    found: dict[str, list[str]] = {}
    if isinstance(value, str):
        if "@" in value:
            found[value.strip().lower()] = []
    elif isinstance(value, Mapping):
        email = value.get("email")
        if isinstance(email, str) and "@" in email:
            reasons = value.get("reasons", value.get("reason"))
            found[email.strip().lower()] = sorted(set(_reason_words(reasons)))
            return found
        for key, item in value.items():
            if "@" in str(key):
                found[str(key).strip().lower()] = sorted(set(_reason_words(item)))
            else:
                found.update(_addresses_in(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.update(_addresses_in(item))
    return found


def _reason_words(value: Any) -> Iterable[str]:
    """The reason strings anywhere inside one suppressed entry (its exact shape is undocumented)."""
    if isinstance(value, str):
        if "@" not in value:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _reason_words(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _reason_words(item)


def _message_ids(
    ids: Any, count: int, invalid: Iterable[int], failed: Iterable[int], bulk_email_id: str
) -> list[str]:
    """Each email's message id. ``messages_id`` lists ids in order for the emails that became
    messages (inferred): matched when its length fits, else ``{bulk_email_id}#{index}``."""
    fallback = [f"{bulk_email_id}#{i}" for i in range(count)]
    if not isinstance(ids, list):
        return fallback
    for excluded in (set(invalid), set(failed)):
        kept = [i for i in range(count) if i not in excluded]
        if len(kept) == len(ids):
            for index, message_id in zip(kept, ids, strict=True):
                fallback[index] = str(message_id)
            return fallback
    return fallback
