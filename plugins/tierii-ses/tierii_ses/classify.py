"""What an SES error means for a recipient: transient, permanent, unknown, or the end of the run.

- Throttling (``TooManyRequestsException``, ``ThrottlingException``, ``Throttling``) and
  SES's own 5xx answers: transient, retried with backoff.
- ``MessageRejected`` (and ``BadRequestException``, an address SES cannot take): permanent,
  for this recipient only.
- The account or its sending stopped (``AccountSendingPausedException``,
  ``AccountSuspendedException``, ``SendingPausedException``), the 24-hour quota used up
  (``LimitExceededException``), the sender's MAIL FROM domain or the configuration set
  missing, credentials refused: fatal. Nothing more can be sent: the run stops (exit 3), and
  whatever SES did not accept is sent by a re-run.
- No connection: transient (nothing left). The connection lost, or no answer in time, after
  the request went out: unknown; SES may have accepted the message, so it is never resent
  blindly (``--retry-unknown``).
"""

from __future__ import annotations

from tierii_core.models import Message, Outcome
from tierii_ses.client import error_code, error_message, http_status

NAME = "ses"

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "RequestThrottled",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
PERMANENT_CODES = frozenset({"MessageRejected", "BadRequestException", "InvalidParameterValue"})
#: code -> what the user is told when it stops the run
FATAL_CODES = {
    "AccountSendingPausedException": "SES has paused sending for the account",
    "AccountSuspendedException": "SES has suspended the account's sending",
    "SendingPausedException": "sending is paused for the configuration set",
    "LimitExceededException": "the account's 24-hour sending quota is used up",
    "MailFromDomainNotVerifiedException": "the sender's MAIL FROM domain is not verified in SES",
    "ConfigurationSetDoesNotExist": "the configuration set does not exist",
    "NotFoundException": "SES did not find the configuration set or identity named in the request",
    "AccessDeniedException": "the AWS credentials may not send through SES (ses:SendEmail)",
    "AccessDenied": "the AWS credentials may not send through SES (ses:SendEmail)",
    "UnrecognizedClientException": "AWS does not recognise the access key",
    "InvalidClientTokenId": "AWS does not recognise the access key",
    "InvalidSignatureException": "AWS refused the request signature (wrong secret key?)",
    "SignatureDoesNotMatch": "AWS refused the request signature (wrong secret key?)",
    "ExpiredToken": "the AWS session token has expired",
    "ExpiredTokenException": "the AWS session token has expired",
}

#: what SES's re-run advice is, for every fatal reason
_AFTER = "; nothing more is sent: fix it, then re-run the same command"


def describe(exc: BaseException) -> str:
    """``MessageRejected (400): Email address is not verified.`` - code, status and message."""
    code = error_code(exc) or type(exc).__name__
    status = http_status(exc)
    message = error_message(exc)
    shown = f"{code} ({status})" if status else code
    return f"{shown}: {message}" if message and message != code else shown


def fatal_reason(exc: BaseException) -> str | None:
    """Why nothing more can be sent, or None when the error is about one message."""
    code = error_code(exc)
    if code in FATAL_CODES:
        return f"{FATAL_CODES[code]} ({describe(exc)}){_AFTER}"
    return None


def client_error(exc: BaseException, message: Message) -> Outcome:
    """The outcome of a ``ClientError`` that is not fatal: SES answered, so the verdict is certain."""
    code = error_code(exc)
    reason = f"SES {describe(exc)}"
    status = http_status(exc) or 0
    if code in PERMANENT_CODES:
        return Outcome.permanent(message, NAME, reason)
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return Outcome.transient(message, NAME, reason)
    if 400 <= status < 500:  # an error SES has not documented for SendEmail: it concerns this request
        return Outcome.permanent(message, NAME, reason)
    return Outcome.transient(message, NAME, reason)


def not_sent(message: Message, error: str) -> Outcome:
    """No connection was made: SES has nothing, try again."""
    return Outcome.transient(message, NAME, f"not sent: {error}")


def lost(message: Message, error: str) -> Outcome:
    """The request went out and no answer came back: SES may have accepted it."""
    return Outcome.unknown(message, NAME, f"sent to SES, answer lost: {error}")
