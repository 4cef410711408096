"""TierII's feedback loop: what comes back after sending suppresses the addresses it should.

Delivery status notifications (RFC 3464, and the non-standard bounce shapes flufl.bounce
knows), complaint reports (ARF, RFC 5965) and unsubscribe requests mailed to
``TIERII_UNSUBSCRIBE_MAILTO``, read from a Maildir or an IMAP folder by ``tierii feedback``.
"""

__version__ = "0.1.0"
