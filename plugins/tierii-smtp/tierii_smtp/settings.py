"""The ``smtp`` provider's settings, filled by the core from ``TIERII_SMTP_<FIELD>``."""

from __future__ import annotations

import os
import re
from typing import Any

import attrs
from attrs import field, frozen
from attrs.validators import ge, gt, le

from tierii_core.models import Credentials, Secret

#: the provider's name: its --provider value and its settings' prefix (TIERII_SMTP_*)
NAME = "smtp"

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

_HOST_WITH_PORT = re.compile(r"^[^:\s]+:\d+$")


def _host(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} contains a space")
    if _HOST_WITH_PORT.match(value):
        raise ValueError("a host name has no port; put the port in TIERII_SMTP_PORT")


def _security(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in SECURITY_MODES:
        raise ValueError(f"{value!r} is not a security mode")


def _pem_file(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value and not os.path.isfile(value):
        raise ValueError(f"there is no file at {value}")


@frozen
class SmtpSettings:
    """How to reach the SMTP server (``TIERII_SMTP_*``)."""

    host: str = field(
        default="",
        validator=_host,
        metadata={
            "help": "SMTP server to send through; setting it makes the smtp provider available.",
            "form": "a host name or IP address, e.g. smtp.example.com",
        },
    )
    port: int = field(
        default=0,
        validator=[ge(0), le(65535)],
        metadata={
            "help": "TCP port; 0 = the usual one for SECURITY (587 starttls, 465 ssl, 25 none).",
            "form": "a port number from 1 to 65535, or 0 for the default",
        },
    )
    security: str = field(
        default="starttls",
        validator=_security,
        metadata={
            "help": "starttls: upgrade a plain connection; ssl: TLS from the first byte (port 465); "
            "none: unencrypted (a relay on this machine or network only).",
            "form": "starttls, ssl or none",
        },
    )
    username: str = field(
        default="",
        metadata={"help": "Log in (AUTH PLAIN/LOGIN) as this user; empty = do not log in."},
    )
    password: Secret = field(
        default=Secret(""),
        metadata={"help": "Password for USERNAME (never shown or logged)."},
    )
    timeout: float = field(
        default=30.0,
        validator=gt(0),
        metadata={
            "help": "Seconds to wait for the server on each connect, command and reply.",
            "form": "a number of seconds > 0, e.g. 30",
        },
    )
    connections: int = field(
        default=4,
        validator=[ge(1), le(100)],
        metadata={
            "help": "Connections kept open and used in parallel (the pool size).",
            "form": "a whole number from 1 to 100",
        },
    )
    ca_file: str = field(
        default="",
        validator=_pem_file,
        metadata={
            "help": "PEM file of the CA that signed the server's certificate (a private CA); "
            "replaces the system CAs for this server.",
            "form": "the path of a PEM file",
        },
    )
    insecure_skip_verify: bool = field(
        default=False,
        metadata={
            "help": "UNSAFE: accept any TLS certificate (no verification); anyone on the path can "
            "read and change your mail and password. For tests against a throw-away server only.",
        },
    )
    helo_name: str = field(
        default="",
        validator=_host,
        metadata={
            "help": "Name to announce in EHLO; empty = this machine's fully qualified name.",
            "form": "a host name, e.g. mail.example.com",
        },
    )

    relay_signs: bool = field(
        default=False,
        metadata={
            "help": "The relay DKIM-signs every message with your domain itself (an ESP's SMTP "
            "endpoint): marketing mail may then go out without TierII's own key (TIERII_DKIM_*).",
        },
    )

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.effective_port}"


def configuration_problem(settings: SmtpSettings, credentials: Credentials | None) -> str | None:
    """What is missing for the provider to work, naming the variable; None when nothing is."""
    if not settings.host:
        return "TIERII_SMTP_HOST is not set: the smtp provider needs a server to send through"
    username = credentials.username if credentials else None
    secret = credentials.secret if credentials else None
    if username and not secret:
        return f"TIERII_SMTP_USERNAME is {username!r} but no password is set (TIERII_SMTP_PASSWORD)"
    if secret and not username:
        return "TIERII_SMTP_PASSWORD is set but TIERII_SMTP_USERNAME is not: set the user to log in as"
    return None
