"""Read one mailed message and say what it reports: which addresses, and what happened to them.

- ARF complaint reports (RFC 5965, ``multipart/report; report-type=feedback-report``), read
  here with the email package: the complained-about address is ``Original-Rcpt-To``, else the
  signed unsubscribe token in the returned message's ``List-Unsubscribe`` (mailbox providers
  redact the address; our token names it and cannot be forged), else the returned ``To:``.
- Delivery status notifications (RFC 3464) are read here too, per recipient: ``Action`` and
  ``Status`` decide hard (5.x.x, or failed without a status) or soft (4.x.x, delayed); the
  ``Diagnostic-Code`` is kept. Whatever is not a readable DSN goes to flufl.bounce's detectors
  (Postfix, Exim, qmail, Exchange, GroupWise, Yahoo, AOL, and the generic shapes), whose
  permanent/temporary split is kept as hard/soft.
- A message to ``TIERII_UNSUBSCRIBE_MAILTO`` (not itself automatic) unsubscribes its sender.

A bounce or complaint also says which of our messages it is about, where it can: the
``Message-ID`` of the returned message (:attr:`Report.message_ids`) and the recipient of a
VERP-tagged address (:attr:`Report.verp_recipient`); the processor looks them up.

Anything else is :data:`NOT_A_REPORT`. A message this cannot read raises :class:`Unreadable`
with the reason; nothing else escapes (garbage must never stop a run).
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import re
from collections.abc import Callable, Iterable

from attrs import frozen

from tierii_core.feedback_store import COMPLAINT, HARD, SOFT, UNSUBSCRIBE
from tierii_core.suppression import normalise

BOUNCE, COMPLAINT_REPORT, UNSUBSCRIBE_MAIL, NOT_A_REPORT = (
    "bounce",
    "complaint",
    "unsubscribe",
    "not a report",
)

#: ARF feedback types that are a recipient's complaint (not-spam and auth-failure are not)
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
_DIAGNOSTIC_LIMIT = 300
_TOKEN = re.compile(r"[?&]t=([A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,})")
_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")
_POLICY = re.compile(r"(?<![\d.])5\.7\.\d{1,3}(?![\d.])")
#: ``<left@right>`` in printable ASCII (RFC 5322 msg-id; whitespace is removed first)
_MSG_ID = re.compile(r"<([\x21-\x3b\x3d\x3f-\x7e]{1,250}@[\x21-\x3b\x3d\x3f-\x7e]{1,250})>")
#: a ``Message-ID:`` line of headers returned in a bounce's text (the non-standard shapes)
_MSG_ID_LINE = re.compile(r"^[ \t>]*message-id:[ \t]*(<[^\r\n]{1,600})", re.I | re.M)
_MAX_IDS = 8
#: the parts that return the original message or its headers (the last one is a common misspelling)
RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_SCANNED_TEXT = 64 * 1024


class Unreadable(Exception):
    """The message looks like a report but cannot be read; the reason says why."""


@frozen
class Finding:
    """One address in a report, and what happened to it."""

    email: str  # '' in a complaint that names nobody: the recipient of the returned message
    kind: str  # HARD, SOFT, COMPLAINT or UNSUBSCRIBE
    diagnostic: str = ""


@frozen
class Report:
    kind: str  # BOUNCE, COMPLAINT_REPORT, UNSUBSCRIBE_MAIL or NOT_A_REPORT
    findings: tuple[Finding, ...] = ()
    date: float | None = None  # the report's Date:, as a timestamp
    #: the returned message's ``Message-ID`` (``<...@...>``), best evidence first
    message_ids: tuple[str, ...] = ()
    #: the recipient named by our VERP-tagged address the report came back to, else ''
    verp_recipient: str = ""


NOTHING = Report(NOT_A_REPORT)


def parse_message(raw: bytes) -> email.message.Message:
    """compat32: what flufl.bounce's detectors expect, and it never raises on bad headers."""
    return email.message_from_bytes(raw)


def classify(
    raw: bytes,
    *,
    unsubscribe_mailto: str = "",
    verify_token: Callable[[str], str | None] | None = None,
    return_path: str = "",
) -> Report:
    """What ``raw`` reports. Raises :class:`Unreadable`, never anything else.

    ``return_path``: ``TIERII_RETURN_PATH``; a bounce no parser can read, sent back to its
    VERP-tagged address, still names its recipient: a soft bounce (we cannot tell if permanent).
    """
    try:
        message = parse_message(raw)
        report = _classify(message, unsubscribe_mailto.strip().lower(), verify_token)
        if report.kind == NOT_A_REPORT and return_path:
            report = _verp_bounce(message, return_path)
        if not report.findings:
            return report
        about_ours = report.kind in (BOUNCE, COMPLAINT_REPORT)
        return Report(
            report.kind,
            report.findings,
            _date(message),
            returned_message_ids(message) if about_ours else (),
            _verp_recipient(message, return_path) if about_ours and return_path else "",
        )
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable("nested too deeply to read") from None
    except Exception as exc:  # a parser's bug on hostile input must not stop the run
        raise Unreadable(f"{type(exc).__name__}: {exc}"[:_DIAGNOSTIC_LIMIT]) from None


def _classify(
    message: email.message.Message, mailto: str, verify_token: Callable[[str], str | None] | None
) -> Report:
    report_type = _report_type(message)
    if report_type == "feedback-report":
        return _arf(message, verify_token)
    if mailto and _addressed_to(message, mailto) and not _automatic(message):
        return _mailed_unsubscribe(message)
    if report_type == "delivery-status":
        findings = _dsn(message)
        if findings:
            return Report(BOUNCE, findings)
    return _other_bounce(message)


def _report_type(message: email.message.Message) -> str:
    if message.get_content_type() != "multipart/report":
        return ""
    return str(message.get_param("report-type", "") or "").strip().lower()


# -- complaints (ARF) -------------------------------------------------------------------------


def _arf(message: email.message.Message, verify_token: Callable[[str], str | None] | None) -> Report:
    fields = None
    returned: email.message.Message | None = None
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/feedback-report" and fields is None:
            fields = _report_fields(part)
        elif content_type in ("message/rfc822", "text/rfc822-headers") and returned is None:
            returned = _returned_message(part)
    if fields is None:
        raise Unreadable("a feedback report without its message/feedback-report part")
    feedback_type = _first(fields, "feedback-type").lower()
    if feedback_type not in COMPLAINT_TYPES:
        return NOTHING  # not-spam, auth-failure: nobody complained
    candidates = [
        _address(v) for v in fields.get("original-rcpt-to", []) + fields.get("removal-recipient", [])
    ]
    addresses = {a for a in candidates if a}
    if not addresses and returned is not None and verify_token is not None:
        addresses = set(_token_addresses(str(returned.get("List-Unsubscribe", "")), verify_token))
    if not addresses and returned is not None:
        addresses = {
            a for _, a in email.utils.getaddresses([str(v) for v in returned.get_all("To", [])]) if a
        }
    diagnostic = f"{feedback_type} report from {_first(fields, 'user-agent') or 'an ISP'}"
    findings = tuple(Finding(address, COMPLAINT, diagnostic) for address in sorted(_valid(addresses)))
    if not findings and returned is not None and message_ids_in(returned.get("Message-ID", "")):
        # it names nobody, but returns our message: its Message-ID may name the recipient
        findings = (Finding("", COMPLAINT, diagnostic),)
    if not findings:
        raise Unreadable("a complaint report naming no recipient (Original-Rcpt-To, List-Unsubscribe, To)")
    return Report(COMPLAINT_REPORT, findings)


def _report_fields(part: email.message.Message) -> dict[str, list[str]]:
    """``name: value`` lines of a report part, whether the parser made a message or a string of it."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parsed as sub-messages
        text = "".join(_header_text(p) for p in payload if isinstance(p, email.message.Message))
    else:
        text = part.get_payload(decode=True) or b""
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    fields: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name][-1] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if colon and key.strip() and " " not in key.strip():
            name = key.strip().lower()
            fields.setdefault(name, []).append(value.strip())
    return fields


def _header_text(message: email.message.Message) -> str:
    return "".join(f"{k}: {v}\n" for k, v in message.items()) + "\n"


def _returned_message(part: email.message.Message) -> email.message.Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], email.message.Message) else None
    data = part.get_payload(decode=True)
    return email.message_from_bytes(data) if isinstance(data, bytes) else None


def _token_addresses(header: str, verify_token: Callable[[str], str | None]) -> Iterable[str]:
    for token in _TOKEN.findall(header):
        address = verify_token(token)
        if address:
            yield address


# -- bounces (DSN, RFC 3464) ------------------------------------------------------------------


def _dsn(message: email.message.Message) -> tuple[Finding, ...]:
    findings: dict[str, Finding] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            if not isinstance(block, email.message.Message):
                continue
            finding = _dsn_recipient(block)
            if finding is None:
                continue
            if finding.email not in findings or finding.kind == HARD:  # hard wins over soft
                findings[finding.email] = finding
    return tuple(findings[k] for k in sorted(findings))


def _dsn_recipient(block: email.message.Message) -> Finding | None:
    action = str(block.get("Action", "")).strip().lower()
    # comments after the action are seen; opensmtpd says "error" for "failed"
    action = (
        "failed"
        if action.startswith(("fail", "error"))
        else "delayed"
        if action.startswith("delay")
        else action
    )
    status = str(block.get("Status", "")).strip()
    recipient = _address(str(block.get("Original-Recipient", "") or "")) or None
    final = _address(str(block.get("Final-Recipient", "") or ""))
    valid = _valid([recipient or final])  # the address we sent to, when the MTA kept it
    if not valid:
        return None
    (address,) = valid
    code = _STATUS.match(status)
    klass = code.group(1) if code else ""
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "") or "").split())
    diagnostic = (diagnostic or status or action)[:_DIAGNOSTIC_LIMIT]
    if klass != "2" and (_POLICY.search(status) or _POLICY.search(diagnostic)):
        # 5.7.x: the receiver refused *us* (spam filter, policy, authentication); the address
        # itself may be fine, so it counts as soft: a block that lasts suppresses in the end
        return Finding(address, SOFT, f"blocked: {diagnostic}"[:_DIAGNOSTIC_LIMIT])
    if (action == "failed" and klass != "4") or (action != "delayed" and klass == "5"):
        return Finding(address, HARD, diagnostic)
    if action in ("failed", "delayed") or klass == "4":
        return Finding(address, SOFT, diagnostic)
    return None  # delivered, relayed, expanded: not a failure


# -- the non-standard shapes: flufl.bounce ----------------------------------------------------


def _other_bounce(message: email.message.Message) -> Report:
    from flufl.bounce import all_failures  # heavy (every detector's patterns): only when used

    temporary, permanent = all_failures(message)
    subject = " ".join(str(message.get("Subject", "") or "").split())[:_DIAGNOSTIC_LIMIT]
    hard = _valid(a.decode("utf-8", "replace") for a in permanent)
    soft = _valid(a.decode("utf-8", "replace") for a in temporary) - hard
    findings = [Finding(a, HARD, subject or "permanent failure") for a in sorted(hard)]
    findings += [Finding(a, SOFT, subject or "temporary failure") for a in sorted(soft)]
    return Report(BOUNCE, tuple(findings)) if findings else NOTHING


# -- bounces no parser reads, to a VERP address ------------------------------------------------

_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_AUTO_REPLY = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesen)", re.I
)


def _verp_bounce(message: email.message.Message, return_path: str) -> Report:
    from tierii_core import verp

    subject = " ".join(str(message.get("Subject", "") or "").split())[:_DIAGNOSTIC_LIMIT]
    senders = email.utils.getaddresses([str(v) for v in message.get_all("From", [])])
    from_daemon = any(a.lower().partition("@")[0] in _DAEMONS for _, a in senders)
    if not (from_daemon or _report_type(message)) or _AUTO_REPLY.match(subject):
        return NOTHING  # an auto-reply or a person: RFC 3834 sends those to the Return-Path too
    recipients = {verp.decode(return_path, a) for _, a in email.utils.getaddresses(_envelope_to(message))}
    findings = tuple(
        Finding(a, SOFT, f"unrecognised bounce to our VERP address: {subject or '(no subject)'}")
        for a in sorted(_valid(r for r in recipients if r))
    )
    return Report(BOUNCE, findings) if findings else NOTHING


def _envelope_to(message: email.message.Message) -> list[str]:
    values: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        values += [str(v) for v in message.get_all(name, [])]
    return values


def _verp_recipient(message: email.message.Message, return_path: str) -> str:
    """The one recipient our VERP addresses in the report name (the envelope recipient of a
    bounce, an ARF's ``Original-Mail-From``); '' when none, or when they disagree."""
    from tierii_core import verp

    values = _envelope_to(message)
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            values += _report_fields(part).get("original-mail-from", [])
    decoded = {verp.decode(return_path, a) for _, a in email.utils.getaddresses(values)}
    recipients = _valid(r for r in decoded if r)
    return recipients.pop() if len(recipients) == 1 else ""


# -- which of our messages a report is about --------------------------------------------------


def message_ids_in(value: object) -> list[str]:
    """``<id@host>`` tokens in a header value, whitespace (folding) removed; garbage gives []."""
    text = "".join(str(value or "").split())
    return [f"<{found}>" for found in _MSG_ID.findall(text)[:_MAX_IDS]]


def returned_message_ids(message: email.message.Message) -> tuple[str, ...]:
    """The ``Message-ID`` of the message a report returns, best evidence first: the returned
    message or headers (``message/rfc822``, ``text/rfc822-headers``: DSN, ARF), a DSN's
    ``X-Original-Message-ID``, the report's ``In-Reply-To`` (Exchange, Gmail), then a
    ``Message-ID:`` line of headers quoted in the text (the non-standard bounce shapes)."""
    returned: list[str] = []
    per_message: list[str] = []
    quoted: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in RETURNED_TYPES:
            original = _returned_message(part)
            if original is not None:
                returned += message_ids_in(original.get("Message-ID", ""))
        elif content_type == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else ():
                if isinstance(block, email.message.Message):
                    per_message += message_ids_in(block.get("X-Original-Message-ID", ""))
        elif part.get_content_maintype() == "text" and not part.is_multipart():
            quoted += _quoted_ids(part)
    replied = message_ids_in(message.get("In-Reply-To", ""))
    found = dict.fromkeys(returned + per_message + replied + quoted)  # ordered, no repeats
    return tuple(found)[:_MAX_IDS]


def _quoted_ids(part: email.message.Message) -> list[str]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return []
    text = payload[:_SCANNED_TEXT].decode("ascii", "replace")
    return [i for line in _MSG_ID_LINE.findall(text) for i in message_ids_in(line)[:1]]


# -- mailed unsubscribes ----------------------------------------------------------------------


def _addressed_to(message: email.message.Message, mailto: str) -> bool:
    return any(address.lower() == mailto for _, address in email.utils.getaddresses(_envelope_to(message)))


def _automatic(message: email.message.Message) -> bool:
    """An auto-reply, a bounce or a list message: nobody asked to unsubscribe (RFC 3834)."""
    submitted = str(message.get("Auto-Submitted", "no") or "no").strip().lower()
    sender = str(message.get("Return-Path", "") or "").strip()
    return submitted != "no" or sender == "<>" or bool(_report_type(message))


def _mailed_unsubscribe(message: email.message.Message) -> Report:
    senders = email.utils.getaddresses([str(v) for v in message.get_all("From", [])])
    addresses = _valid(address for _, address in senders if address)
    if not addresses:
        raise Unreadable("a message to the unsubscribe address without a usable From: address")
    subject = " ".join(str(message.get("Subject", "") or "").split())[:_DIAGNOSTIC_LIMIT]
    return Report(
        UNSUBSCRIBE_MAIL,
        tuple(Finding(a, UNSUBSCRIBE, f"mailed: {subject or '(no subject)'}") for a in sorted(addresses)),
    )


# -- helpers ----------------------------------------------------------------------------------


def _first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def _address(value: str) -> str:
    """``rfc822; <Ana@Example.com>`` -> ``Ana@Example.com``; '' when there is none."""
    _, semicolon, rest = value.partition(";")
    text = (rest if semicolon else value).strip().strip("<>").strip()
    return text if "@" in text and not any(c.isspace() for c in text) else ""


def _valid(addresses: Iterable[str]) -> set[str]:
    """Normalised (the suppression list's spelling); anything that is not an address is dropped."""
    found = set()
    for address in addresses:
        try:
            key = normalise(address)
        except ValueError:
            continue
        if not key.startswith("@"):
            found.add(key)
    return found


def _date(message: email.message.Message) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return parsed.timestamp() if parsed.tzinfo else None
    except (OverflowError, OSError, ValueError):
        return None
