"""The mail a Return-Path / feedback mailbox holds after a campaign: reports and noise.

Built from the shapes in ``corpus/`` (see corpus/README.md for where each comes from), with
the campaign's own addresses put in. :func:`scenario` returns the messages and exactly what
processing them must do.
"""

from __future__ import annotations

from pathlib import Path

from attrs import frozen

from tierii_core.unsubscribe import UnsubscribeLinks

CORPUS = Path(__file__).parent / "corpus"
OURS = CORPUS / "tierii"
FLUFL = CORPUS / "flufl-bounce"
MAILTO = "unsubscribe@shop.example"


def render(
    name: str, recipient: str, n: int = 0, *, links: UnsubscribeLinks | None = None, message_id: str = ""
) -> bytes:
    text = (OURS / name).read_text(encoding="utf-8")
    if links is not None:
        unsubscribe = f"List-Unsubscribe: <{links.url(recipient)}>, <mailto:{MAILTO}?subject=unsubscribe>"
    else:
        unsubscribe = f"List-Unsubscribe: <mailto:{MAILTO}?subject=unsubscribe>"
    for key, value in {
        "{recipient}": recipient,
        "{n}": str(n),
        "{message_id}": message_id or f"1234.abcdef.{n}@shop.example",
        "{list_unsubscribe}": unsubscribe,
        "{recipient_verp}": recipient.replace("@", "="),
    }.items():
        text = text.replace(key, value)
    return text.encode("utf-8")


@frozen
class Scenario:
    messages: tuple[tuple[str, bytes], ...]  # (name, bytes)
    suppressed: dict[str, str]  # address -> the start of its reason
    soft_only: tuple[str, ...]  # soft-bounced below the limit: never suppressed
    noise: int  # messages that are not reports (left in place)
    unreadable: int


def scenario(addresses: list[str], links: UnsubscribeLinks) -> Scenario:
    """Ten campaign addresses in; the mailbox out. Uses addresses[0..9]."""
    a = addresses
    messages = [
        ("gmail hard bounce", render("gmail-5.1.1.eml", a[0], 1, links=links)),
        ("office 365 hard bounce", render("office365-5.1.10.eml", a[1], 2, links=links)),
        ("ARF complaint", render("arf-rfc5965.eml", a[2], 3, links=links)),
        ("redacted ARF complaint", render("arf-redacted-yahoo.eml", a[3], 4, links=links)),
        ("mailed unsubscribe", render("unsubscribe-mail.eml", a[4], 5)),
        ("one soft bounce", render("postfix-delayed-4.4.1.eml", a[5], 6, links=links)),
        *(
            (f"soft bounce {i}", render("postfix-delayed-4.4.1.eml", a[6], 10 + i, links=links))
            for i in range(3)
        ),
        ("auto-reply", render("auto-reply.eml", a[7], 20)),
        ("human reply", render("human-reply.eml", a[8], 21)),
        ("not-spam report", render("arf-not-spam.eml", a[9], 22)),
        ("broken report", render("arf-broken.eml", a[9], 23)),
        ("postfix (flufl corpus)", (FLUFL / "postfix_01.txt").read_bytes()),
        ("qmail (flufl corpus)", (FLUFL / "qmail_01.txt").read_bytes()),
        ("exim (flufl corpus)", (FLUFL / "exim_01.txt").read_bytes()),
    ]
    suppressed = {
        a[0]: "hard bounce",
        a[1]: "hard bounce",
        a[2]: "complaint",
        a[3]: "complaint",
        a[4]: "unsubscribe (mail)",
        a[6]: "soft bounces (3 in 14 days",
        "xxxxx@local.ie": "hard bounce",
        "userx@example.de": "hard bounce",
        "userx@its.example.nl": "hard bounce",
    }
    return Scenario(tuple(messages), suppressed, (a[5],), noise=3, unreadable=1)
