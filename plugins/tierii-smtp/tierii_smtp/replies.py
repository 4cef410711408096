"""SMTP replies: what each code means for the recipient, and the queue id in a 250.

Classification (RFC 5321 section 4.2): 2xx accepted; 4xx try again later (transient);
5xx never (permanent), except the authentication codes, which say that nothing will be
accepted with these settings (fatal: the run stops).
"""

from __future__ import annotations

import re

from attrs import frozen

#: 530 authentication required (or STARTTLS first), 534 mechanism too weak,
#: 535 credentials invalid, 538 encryption required for the mechanism (RFC 4954)
AUTH_FAILURES = frozenset({530, 534, 535, 538})

#: "queued as 4BxYz1" (Postfix, many others), "id=1abcDE-000123-AB" (Exim)
_QUEUE_ID = re.compile(r"(?:queued as|\bid=)\s*<?([^\s;,>]+)", re.IGNORECASE)
_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\s+")
MAX_ID = 200


@frozen
class Reply:
    """One reply: its code and its text (lines joined by spaces)."""

    code: int
    text: str

    @classmethod
    def parse(cls, code: int, raw: bytes | str) -> Reply:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return cls(code, " ".join(text.split()))

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def closing(self) -> bool:
        """421: the server is closing this connection (shutting down, too busy, timed out)."""
        return self.code == 421

    @property
    def auth_failure(self) -> bool:
        return self.code in AUTH_FAILURES


def queue_id(reply: Reply) -> str:
    """The server's id for the accepted message: its queue id when it names one, else its
    whole reply text (Gmail's ``OK 1700000000 x1-gsmtp`` is an id in all but name)."""
    found = _QUEUE_ID.search(reply.text)
    if found:
        return found.group(1)
    return _ENHANCED.sub("", reply.text)[:MAX_ID] or str(reply.code)
