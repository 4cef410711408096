"""moto's server as the SES the tests send to: real HTTP on 127.0.0.1, a free port.

boto3 reaches it through the standard ``AWS_ENDPOINT_URL`` (see :meth:`LocalSes.environment`);
what it accepted is read back from moto's own record of sent messages (``/moto-api/data.json``).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from functools import cached_property
from typing import Any

from attrs import frozen

REGION = "us-east-1"
#: the key pair every test uses; moto accepts any
ACCESS_KEY = "AKIATIERIITESTKEY000"
SECRET_KEY = "tierii-test-secret-key-not-a-real-one"


@frozen
class SentMessage:
    """One message moto's SES accepted."""

    message_id: str
    source: str
    destinations: tuple[str, ...]  # the envelope recipients, each once
    raw: bytes  # b"" for a Simple (non-raw) message

    @cached_property
    def parsed(self) -> EmailMessage:
        parser = email.parser.BytesParser(policy=email.policy.default)
        return parser.parsebytes(self.raw)  # type: ignore[return-value]


class LocalSes:
    """moto's server in a thread, with the helpers tests need. Use it as a context manager."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._server: Any = None
        self.url = ""

    def __enter__(self) -> LocalSes:
        from moto.server import ThreadedMotoServer

        # werkzeug logs a line per request on stderr; the tests read moto's record instead
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    def environment(self, endpoint: str | None = None) -> Mapping[str, str]:
        """The variables that point boto3 at this server (or at ``endpoint``, a proxy in front),
        with test keys, and boto3's instance-metadata lookup off (it would leave the loopback)."""
        return {
            "AWS_ENDPOINT_URL": endpoint or self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def _call(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.read()

    def reset(self) -> None:
        """Forget everything: identities, sent messages, configuration sets."""
        self._call("/moto-api/reset", "POST")

    def client(self, service: str = "sesv2") -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def verify_domain(self, domain: str = "example.com") -> None:
        """Create a domain identity: moto marks it verified at once, and refuses senders without one."""
        client = self.client()
        try:
            client.create_email_identity(EmailIdentity=domain)
        finally:
            client.close()

    def sent(self) -> list[SentMessage]:
        """Every message moto's SES accepted, in order: raw ones with their bytes."""
        data = json.loads(self._call("/moto-api/data.json"))
        ses = data.get("ses", {})
        messages = [
            SentMessage(
                message_id=m["id"],
                source=m.get("source", ""),
                destinations=tuple(dict.fromkeys(_recipients(m.get("destinations")))),
                raw=m.get("raw_data", "").encode("utf-8", "surrogateescape"),
            )
            for m in ses.get("RawMessage", [])
        ]
        messages += [
            SentMessage(
                m["id"], m.get("source", ""), tuple(dict.fromkeys(_recipients(m.get("destinations")))), b""
            )
            for m in ses.get("Message", [])
        ]
        return messages


def _recipients(destinations: Any) -> list[str]:
    """Bare addresses. moto keeps a raw message's destinations as a list (the request's, then
    the To/Cc/Bcc headers' again, with display names), a simple one's as ToAddresses/Cc/Bcc."""
    from email.utils import parseaddr

    if isinstance(destinations, dict):
        keys = ("ToAddresses", "CcAddresses", "BccAddresses")
        destinations = [d for key in keys for d in destinations.get(key, [])]
    if not isinstance(destinations, list):
        return []
    return [parseaddr(str(d))[1] or str(d) for d in destinations]
