"""A faithful local Azure Communication Services email endpoint (shipped with the plugin).

It speaks the REST API the official SDK speaks, on 127.0.0.1: ``POST /emails:send`` (202 and
``Operation-Location``), ``GET /emails/operations/{id}`` (Running, then Succeeded or Failed);
HMAC-SHA256 request signatures checked as ACS checks them (a wrong key is 401); Entra ID
bearer tokens over https with a test CA; 429 with Retry-After; 400 error bodies as documented;
and a record of every message::

    from tierii_azure.testing import LocalAcs, RateLimit

    with LocalAcs(limits={"send": RateLimit(100, window=1.0)}) as acs:
        os.environ.update(acs.environment())     # TIERII_AZURE_CONNECTION_STRING
        ...
        assert len(acs.delivered_to("ada@example.com")) == 1

With pytest, the ``local_acs`` and ``local_acs_env`` fixtures (:mod:`.fixtures`) are
registered automatically when this plugin is installed.
"""

from tierii_azure.testing.api import API_VERSIONS, Answer, Faults, RateLimit
from tierii_azure.testing.auth import signature
from tierii_azure.testing.records import AcceptedMessage, RequestRecord
from tierii_azure.testing.server import DEFAULT_KEY, SECONDARY_KEY, LocalAcs

__all__ = [
    "API_VERSIONS",
    "DEFAULT_KEY",
    "SECONDARY_KEY",
    "AcceptedMessage",
    "Answer",
    "Faults",
    "LocalAcs",
    "RateLimit",
    "RequestRecord",
    "signature",
]
