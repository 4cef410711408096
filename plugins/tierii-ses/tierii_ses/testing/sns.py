"""A local SNS for the notification receiver's tests: a test CA (trustme), an https server on
127.0.0.1 serving the signing certificate and answering subscription confirmations, and
messages signed exactly as SNS signs them (or forged).

The receiver trusts this server only because a test passes :attr:`LocalSns.hosts` to
``make_app(..., hosts=...)``; ``tierii ses notifications serve`` never does, so no setting
or variable can make a production receiver fetch a certificate from anywhere but SNS.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tierii_ses.sns import SnsHosts, SnsMessage

TOPIC = "arn:aws:sns:us-east-1:123456789012:tierii-ses-feedback"
CERT_PATH = "/SimpleNotificationService-tierii-test.pem"


class LocalSnsHosts(SnsHosts):
    """Trusts exactly one https origin on 127.0.0.1, whose certificate the test CA issued."""

    def __init__(self, origin: str, context: ssl.SSLContext) -> None:
        self.origin = origin
        self._context = context

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin and not parts.username

    def ssl_context(self) -> ssl.SSLContext:
        return self._context


class LocalSns:
    """The local SNS; a context manager. ``confirmations`` lists the tokens confirmed."""

    def __init__(self) -> None:
        import trustme

        self.ca = trustme.CA(key_type=trustme.KeyType.RSA)
        tls = self.ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
        signing = self.ca.issue_cert("sns.us-east-1.amazonaws.com", key_type=trustme.KeyType.RSA)
        self.certificate_pem = signing.cert_chain_pems[0].bytes()
        self._key = _private_key(signing.private_key_pem.bytes())
        # what an attacker has: a key and certificate of their own, from another CA
        other = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert(
            "sns.us-east-1.amazonaws.com", key_type=trustme.KeyType.RSA
        )
        self._forger_key = _private_key(other.private_key_pem.bytes())
        self.confirmations: list[str] = []
        self.certificate_fetches = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.configure_cert(server_context)
        self._server.socket = server_context.wrap_socket(self._server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self._server.server_address[1]}"
        client_context = ssl.create_default_context()
        self.ca.configure_trust(client_context)
        self.hosts = LocalSnsHosts(self.origin, client_context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LocalSns:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def certificate_url(self) -> str:
        return self.origin + CERT_PATH

    # -- messages ----------------------------------------------------------------------------

    def notification(self, ses_event: Mapping[str, Any], topic: str = TOPIC, version: str = "1") -> dict:
        """An SNS Notification carrying ``ses_event``, signed by this SNS."""
        fields = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Message": json.dumps(ses_event),
            "Timestamp": _now(),
            "UnsubscribeURL": f"{self.origin}/?Action=Unsubscribe&SubscriptionArn={topic}:sub",
        }
        return self.sign(fields, version)

    def subscription_confirmation(self, topic: str = TOPIC, token: str | None = None) -> dict:
        token = token or uuid.uuid4().hex * 2
        fields = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": f"{self.origin}/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}",
            "Timestamp": _now(),
        }
        return self.sign(fields)

    def sign(self, fields: Mapping[str, str], version: str = "1", *, forged: bool = False) -> dict:
        """``fields`` with ``SignatureVersion``, ``SigningCertURL`` and ``Signature`` as SNS adds
        them; ``forged``: signed with another key, as anyone could."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        message = {**fields, "SignatureVersion": version, "SigningCertURL": self.certificate_url}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        key = self._forger_key if forged else self._key
        data = SnsMessage.parse(json.dumps({**message, "Signature": "x"}).encode()).string_to_sign()
        message["Signature"] = base64.b64encode(key.sign(data, padding.PKCS1v15(), digest)).decode()
        return message

    # -- the server --------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sns = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == CERT_PATH:
                    sns.certificate_fetches += 1
                    return self._answer(200, sns.certificate_pem, "application/x-x509-ca-cert")
                query = parse_qs(parts.query)
                if query.get("Action") == ["ConfirmSubscription"] and query.get("Token"):
                    sns.confirmations.append(query["Token"][0])
                    body = b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
                    body += query.get("TopicArn", [""])[0].encode() + b":confirmed</SubscriptionArn>"
                    body += b"</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
                    return self._answer(200, body, "text/xml")
                return self._answer(404, b"not found", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def post(url: str, message: Mapping[str, Any] | bytes, message_type: str | None = None) -> tuple[int, str]:
    """POST a message as SNS does (JSON body, ``x-amz-sns-message-type``); (status, text)."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    kind = message_type or (message.get("Type") if isinstance(message, Mapping) else None)
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    if kind:
        headers["x-amz-sns-message-type"] = str(kind)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# -- SES notifications, shaped as SES publishes them ---------------------------------------------


def _mail(recipients: Iterable[str]) -> dict:
    return {
        "timestamp": _now(),
        "messageId": "0100018c-test-" + uuid.uuid4().hex[:12],
        "source": "shop@example.com",
        "destination": list(recipients),
    }


def bounce(recipients: Iterable[str], bounce_type: str = "Permanent", sub_type: str = "General") -> dict:
    recipients = list(recipients)
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1",
                }
                for r in recipients
            ],
            "timestamp": _now(),
            "feedbackId": "0100018c-feedback",
        },
        "mail": _mail(recipients),
    }


def complaint(recipients: Iterable[str], feedback_type: str = "abuse", *, event: bool = False) -> dict:
    """A complaint; ``event``: the configuration-set event publishing shape (``eventType``)."""
    recipients = list(recipients)
    return {
        "eventType" if event else "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "complaintFeedbackType": feedback_type,
            "timestamp": _now(),
            "feedbackId": "0100018c-feedback",
        },
        "mail": _mail(recipients),
    }


def delivery(recipients: Iterable[str]) -> dict:
    recipients = list(recipients)
    return {
        "notificationType": "Delivery",
        "delivery": {"recipients": recipients, "smtpResponse": "250 ok", "timestamp": _now()},
        "mail": _mail(recipients),
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)
