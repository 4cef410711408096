"""A faithful local MailerSend for tests and benchmarks (shipped with the plugin).

It speaks the documented API on 127.0.0.1: POST /v1/email, POST /v1/bulk-email,
GET /v1/bulk-email/{id}, GET /v1/api-quota; bearer tokens; 422s, 429s and quota headers shaped
like the real ones; scripted faults; and a record of every email it accepted. Run the real SDK
(or ``tierii send``) against :attr:`LocalMailerSend.base_url`::

    from tierii_mailersend.testing import LocalMailerSend, RateLimit

    with LocalMailerSend(limits={"bulk-email": RateLimit(10, window=1.0)}, bulk_delay=0.05) as api:
        os.environ.update(api.environment())   # TIERII_MAILERSEND_API_TOKEN / _BASE_URL
        ...
        assert len(api.messages_to("ada@example.com")) == 1

With pytest, the ``local_mailersend`` fixture (:mod:`.fixtures`) is registered automatically
when this plugin is installed.

Webhook calls as MailerSend makes them, genuine (signed with the webhook's secret) or forged,
come from :mod:`.webhooks`::

    call = sign_webhook(webhook_payload("activity.hard_bounced", "gone@example.com"), secret)
    status, answer = call.post("http://127.0.0.1:8026/webhooks/mailersend")
"""

from tierii_mailersend.testing.api import DEFAULT_LIMITS, Account, Answer
from tierii_mailersend.testing.faults import FaultScript
from tierii_mailersend.testing.limits import RateLimit
from tierii_mailersend.testing.records import AcceptedMessage, RequestRecord, per_recipient
from tierii_mailersend.testing.server import DEFAULT_TOKEN, LocalMailerSend
from tierii_mailersend.testing.webhooks import (
    EVENT_TYPES,
    TEST_SECRET,
    WebhookCall,
    forge_webhook,
    sign_webhook,
    webhook_for,
    webhook_payload,
    webhook_ping,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TOKEN",
    "EVENT_TYPES",
    "TEST_SECRET",
    "AcceptedMessage",
    "Account",
    "Answer",
    "FaultScript",
    "LocalMailerSend",
    "RateLimit",
    "RequestRecord",
    "WebhookCall",
    "forge_webhook",
    "per_recipient",
    "sign_webhook",
    "webhook_for",
    "webhook_payload",
    "webhook_ping",
]
