"""Credentials out of a location before it is stored or shown.

``postgresql://crm:s3cret@db/crm`` -> ``postgresql://crm:***@db/crm``, wherever a URL occurs in
the text (an error message quoting it too), and secret query parameters (``?password=...``)
likewise. Called where a source location enters the journal, observers, logs and messages.
"""

from __future__ import annotations

import re

#: the password runs to the last ``@`` of the URL: a password may hold ``@``, ``:``, ``/``, ``#``
#: (unencoded, as people write them), even a space. Masking too much (an ``@`` later in the
#: text) beats a leak.
_USER_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^\r\n]*@")
_SECRET_PARAMETER = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|pass|secret|token|api_key|apikey|access_token|sslpassword)=)"
    r"(?P<value>[^&;#\s]+)",
    re.IGNORECASE,
)


def mask_credentials(text: str) -> str:
    """``text`` with every URL's password (and secret query parameter) replaced by ``***``."""
    text = _USER_PASSWORD.sub(lambda match: f"{match['head']}***@", text)
    return _SECRET_PARAMETER.sub(lambda match: f"{match['key']}***", text)
