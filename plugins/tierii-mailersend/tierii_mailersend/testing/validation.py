"""MailerSend's validation of one email object: ``{"field.path": ["message", ...]}`` like the API.

Messages follow the API's (Laravel) wording; the unverified-domain one is recorded from the API
(#MS42207), the others are inferred from the documented limits and Laravel's defaults: a
recipient name with ``;`` or ``,`` (documented: "may not contain ; or ,"), and ``headers`` or
``list_unsubscribe`` on a plan below Professional (documented as Professional/Enterprise only;
the wording of that refusal is not recorded).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

MAX_SUBJECT = 998
MAX_TO = 50
MAX_CC = 10
MAX_TAGS = 5

_EMAIL = re.compile(r"^[^@\s\"<>()\[\],;:]+@[^@\s\"<>()\[\],;:]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")

INVALID = "The given data was invalid."
#: MailerSend's plans; ``headers`` and ``list_unsubscribe`` need one of PLANS_WITH_HEADERS
PLANS = ("trial", "hobby", "starter", "professional", "enterprise")
PLANS_WITH_HEADERS = frozenset({"professional", "enterprise"})
PLAN_FIELDS = ("headers", "list_unsubscribe")


def _valid_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value)) and not value.endswith(".")


def validate_email_object(
    obj: Any, verified_domains: Collection[str] | None, plan: str = "professional"
) -> dict[str, list[str]]:
    """Every problem with ``obj``; empty when MailerSend would accept it.

    ``verified_domains`` None accepts any sender domain; ``plan`` decides whether ``headers``
    and ``list_unsubscribe`` are allowed.
    """
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if not isinstance(obj, Mapping):
        add("message", "The message must be an object.")
        return errors
    template = obj.get("template_id")
    _check_from(obj.get("from"), template, verified_domains, add)
    _check_recipients(obj, add)
    subject = obj.get("subject")
    if subject in (None, "") and not template:
        add("subject", "The subject field is required.")
    elif subject is not None and not isinstance(subject, str):
        add("subject", "The subject must be a string.")
    elif isinstance(subject, str) and len(subject) > MAX_SUBJECT:
        add("subject", f"The subject may not be greater than {MAX_SUBJECT} characters.")
    if not obj.get("text") and not obj.get("html") and not template:
        add("text", "The text field is required when none of html / template id are present.")
    for key in ("text", "html"):
        if obj.get(key) is not None and not isinstance(obj.get(key), str):
            add(key, f"The {key} must be a string.")
    reply_to = obj.get("reply_to")
    if reply_to is not None and not (isinstance(reply_to, Mapping) and _valid_email(reply_to.get("email"))):
        add("reply_to.email", "The reply_to.email must be a valid email address.")
    tags = obj.get("tags")
    if isinstance(tags, list) and len(tags) > MAX_TAGS:
        add("tags", f"The tags may not have more than {MAX_TAGS} items.")
    _check_headers(obj.get("headers"), add)
    if plan not in PLANS_WITH_HEADERS:
        for key in PLAN_FIELDS:
            if obj.get(key) is not None:
                add(key, f"The {key} field is only available on Professional and Enterprise plans.")
    return errors


def _check_from(sender: Any, template: Any, verified: Collection[str] | None, add: Any) -> None:
    email = sender.get("email") if isinstance(sender, Mapping) else None
    if not email:
        if not template:
            add("from.email", "The from.email field is required.")
        return
    if not _valid_email(email):
        add("from.email", "The from.email must be a valid email address.")
        return
    domain = email.rsplit("@", 1)[1].lower()
    if verified is not None and domain not in {d.lower() for d in verified}:
        add("from.email", "The from.email domain must be verified in your account to send emails. #MS42207")


def _check_recipients(obj: Mapping[str, Any], add: Any) -> None:
    to = obj.get("to")
    if not isinstance(to, list) or not to:
        add("to", "The to field is required.")
    elif len(to) > MAX_TO:
        add("to", f"The to may not have more than {MAX_TO} items.")
    for key, most in (("to", MAX_TO), ("cc", MAX_CC), ("bcc", MAX_CC)):
        value = obj.get(key)
        if not isinstance(value, list):
            continue
        if key != "to" and len(value) > most:
            add(key, f"The {key} may not have more than {most} items.")
        for index, recipient in enumerate(value):
            email = recipient.get("email") if isinstance(recipient, Mapping) else None
            if not email:
                add(f"{key}.{index}.email", f"The {key}.{index}.email field is required.")
            elif not _valid_email(email):
                add(f"{key}.{index}.email", f"The {key}.{index}.email must be a valid email address.")
            name = recipient.get("name") if isinstance(recipient, Mapping) else None
            if isinstance(name, str) and (";" in name or "," in name):
                add(f"{key}.{index}.name", f"The {key}.{index}.name may not contain ; or ,.")


def _check_headers(headers: Any, add: Any) -> None:
    if headers is None:
        return
    if not isinstance(headers, list):
        add("headers", "The headers must be an array.")
        return
    for index, header in enumerate(headers):
        name = header.get("name") if isinstance(header, Mapping) else None
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            add(f"headers.{index}.name", f"The headers.{index}.name format is invalid.")
        if not isinstance(header, Mapping) or not isinstance(header.get("value"), str):
            add(f"headers.{index}.value", f"The headers.{index}.value field is required.")


def invalid_body(errors: Mapping[str, list[str]]) -> dict[str, Any]:
    """A 422 body: ``{"message": "The given data was invalid.", "errors": {...}}``."""
    return {"message": INVALID, "errors": dict(errors)}
