"""The marketing rules every campaign passes (CAN-SPAM; Gmail's and Yahoo's bulk-sender rules).

They are off for transactional mail (``--transactional``). Each reason cites its source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from tierii_core import hookimpl
from tierii_core.components import ComplianceRule
from tierii_core.models import Message
from tierii_core.visible import links_in_html, squash, visible_parts

CAN_SPAM_OPT_OUT = "CAN-SPAM, 15 U.S.C. §7704(a)(3) and (a)(5)(A)(ii)"
ONE_CLICK = "RFC 8058; Gmail and Yahoo bulk-sender requirements (2024)"


def _unsubscribe_url(message: Message) -> str | None:
    for name, value in message.headers:
        if name.lower() == "list-unsubscribe":
            first = value.split(",")[0].strip()
            if first.startswith("<https://") and first.endswith(">"):
                return first[1:-1]
    return None


def _missing_in_a_part(
    message: Message, wanted: str, source: str, what: str, ignore_case: bool = False
) -> str | None:
    """Why a part does not show ``wanted`` (white space folded), or None when every part does."""
    fold = str.lower if ignore_case else str
    shown, wanted = wanted, fold(wanted)
    for part in ("text", "html"):
        if part == "html" and message.html is None:
            continue
        if part == "text" and wanted in fold(message.text):  # plain text shows all it holds
            continue
        if wanted not in fold(visible_parts(message)[part]):
            return f"the {part} part does not show {what} {shown!r} ({source})"
    return None


class OneClickUnsubscribe(ComplianceRule):
    """Marketing messages carry List-Unsubscribe (https) and List-Unsubscribe-Post headers."""

    name = "one-click-unsubscribe"

    def check_message(self, message: Message) -> str | None:
        if self.provider_adds_list_unsubscribe:
            return None  # the header that goes out is the provider's own one-click header
        names = {name.lower(): value for name, value in message.headers}
        if _unsubscribe_url(message) is None:
            return (
                "no one-click unsubscribe: set TIERII_UNSUBSCRIBE_URL (https) and TIERII_UNSUBSCRIBE_SECRET "
                f"({ONE_CLICK})"
            )
        if names.get("list-unsubscribe-post") != "List-Unsubscribe=One-Click":
            return f"List-Unsubscribe-Post: List-Unsubscribe=One-Click is missing ({ONE_CLICK})"
        return None


class VisibleUnsubscribeLink(ComplianceRule):
    """Every part of a marketing message shows the recipient's unsubscribe link ({{unsubscribe_url}})."""

    name = "unsubscribe-link"

    def check_message(self, message: Message) -> str | None:
        url = _unsubscribe_url(message)
        if url is None:
            return (
                "no unsubscribe link: set TIERII_UNSUBSCRIBE_URL and TIERII_UNSUBSCRIBE_SECRET "
                f"({CAN_SPAM_OPT_OUT})"
            )
        if url not in message.text:
            return f"the text part does not show {{{{unsubscribe_url}}}} ({CAN_SPAM_OPT_OUT})"
        if message.html is not None and url not in links_in_html(message.html):
            return f'the HTML part has no <a href="{{{{unsubscribe_url}}}}"> link ({CAN_SPAM_OPT_OUT})'
        return None


class PostalAddress(ComplianceRule):
    """Every part of a marketing message shows the sender's postal address (TIERII_SENDER_ADDRESS,
    or the one a plugin supplied for the recipient, such as their store's)."""

    name = "postal-address"
    source = "CAN-SPAM, 15 U.S.C. §7704(a)(5)(A)(iii)"

    def check_message(self, message: Message) -> str | None:
        address = squash(str(message.variables.get("sender_address") or self.core.sender_address))
        if not address:
            return (
                f"TIERII_SENDER_ADDRESS is not set: marketing mail must show a postal address ({self.source})"
            )
        # the plain text is searched as it is first: squashing 2 KB per message was a tenth of a send's CPU
        return _missing_in_a_part(message, address, self.source, "the postal address")


_YES = frozenset({"yes", "y", "true", "1"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", re.IGNORECASE)


def consent_on_record(fields: Mapping[str, Any]) -> bool:
    """Whether a contact's ``consent`` field (any case) records consent: yes/y/true/1, or the
    date (or ISO 8601 timestamp) it was given."""
    value = fields.get("consent")
    if value is None:
        value = next((v for k, v in fields.items() if isinstance(k, str) and k.lower() == "consent"), None)
    if isinstance(value, (bool, date)):  # a datetime is a date
        return bool(value)
    text = "" if value is None else str(value).strip()
    if text.lower() in _YES:
        return True
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


class AdvertisementNotice(ComplianceRule):
    """Every part of a marketing message shows TIERII_AD_NOTICE ('Advertisement'), unless its
    recipient's consent column records consent."""

    name = "ad-notice"
    source = "CAN-SPAM, 15 U.S.C. §7704(a)(5)(A)(i); waived with prior affirmative consent, §7704(a)(5)(B)"

    def __init__(self, settings: Any, core: Any) -> None:
        super().__init__(settings, core)
        self.notice = squash(core.ad_notice)
        self.required = self.waived = False  # what the run did, for the summary

    def check_message(self, message: Message) -> str | None:
        if consent_on_record(message.contact.fields):
            self.waived = True
            return None
        self.required = True
        if not self.notice:
            return (
                "TIERII_AD_NOTICE is empty and this recipient has no consent on record (a consent "
                "column with yes/true/1 or a date): the message must say it is an advertisement "
                f"({self.source})"
            )
        reason = _missing_in_a_part(message, self.notice, self.source, "the notice", ignore_case=True)
        return None if reason is None else f"{reason}; no consent on record for this recipient"

    def notes(self) -> Sequence[str]:
        if self.required and self.waived:
            return (
                f"ad notice: {self.notice!r} required for recipients without consent on record, "
                "waived for those with it",
            )
        if self.required:
            return (f"ad notice: {self.notice!r} required (recipients without consent on record)",)
        if self.waived:
            return ("ad notice: waived (every recipient has consent on record)",)
        return ()


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    return [OneClickUnsubscribe, VisibleUnsubscribeLink, PostalAddress, AdvertisementNotice]
