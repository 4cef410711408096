"""The marketing rules every campaign passes (CAN-SPAM; Gmail's and Yahoo's bulk-sender rules).

They are off for transactional mail (``--transactional``). Each reason cites its source.
"""

from __future__ import annotations

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
    """Every part of a marketing message shows the sender's postal address (TIERII_SENDER_ADDRESS)."""

    name = "postal-address"
    source = "CAN-SPAM, 15 U.S.C. §7704(a)(5)(A)(iii)"

    def check_message(self, message: Message) -> str | None:
        address = squash(self.core.sender_address)
        if not address:
            return (
                f"TIERII_SENDER_ADDRESS is not set: marketing mail must show a postal address ({self.source})"
            )
        for part, text in visible_parts(message).items():
            if address not in text:
                return f"the {part} part does not show the postal address {address!r} ({self.source})"
        return None


class AdvertisementNotice(ComplianceRule):
    """When TIERII_AD_NOTICE is set, every part of a marketing message shows that text."""

    name = "ad-notice"
    source = "CAN-SPAM, 15 U.S.C. §7704(a)(5)(A)(i)"

    def check_message(self, message: Message) -> str | None:
        notice = squash(self.core.ad_notice)
        if not notice:
            return None
        return _missing_in_a_part(message, notice, self.source, "the notice", ignore_case=True)


@hookimpl
def tierii_compliance_rules() -> list[type[ComplianceRule]]:
    return [OneClickUnsubscribe, VisibleUnsubscribeLink, PostalAddress, AdvertisementNotice]
