"""The plugin's settings: ``TIERII_FEEDBACK_*`` (thresholds, where processed mail goes) and
``TIERII_IMAP_*`` (the mailbox ``tierii feedback process --imap`` and ``watch`` read)."""

from __future__ import annotations

import os
from typing import Any

import attrs
from attrs import field, frozen
from attrs.validators import ge, gt, le

from tierii_core.models import Secret

SECURITY_MODES = ("ssl", "starttls")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143}


def _security(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in SECURITY_MODES:
        raise ValueError(f"{value!r} is not a security mode")


def _pem_file(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value and not os.path.isfile(value):
        raise ValueError(f"there is no file at {value}")


def _folder(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("a folder name cannot hold line breaks")


@frozen
class FeedbackSettings:
    """What counts, and where processed reports go (``TIERII_FEEDBACK_*``)."""

    soft_bounce_limit: int = field(
        default=3,
        validator=[ge(1), le(1000)],
        metadata={
            "help": "Soft bounces (4.x.x) of one address within SOFT_BOUNCE_DAYS that suppress it.",
            "form": "a whole number from 1 to 1000",
        },
    )
    soft_bounce_days: float = field(
        default=14.0,
        validator=gt(0),
        metadata={"help": "The window soft bounces are counted in, in days.", "form": "a number of days > 0"},
    )
    processed_folder: str = field(
        default="TierII-Processed",
        validator=_folder,
        metadata={
            "help": "Folder processed reports are moved to (IMAP folder, or Maildir++ sub-folder); "
            "empty = leave them in place, flagged (IMAP) or marked seen (Maildir).",
            "form": "a folder name, or empty",
        },
    )


@frozen
class ImapSettings:
    """The IMAP mailbox reports arrive in (``TIERII_IMAP_*``)."""

    host: str = field(
        default="",
        metadata={"help": "IMAP server holding the Return-Path / feedback-loop mailbox."},
    )
    port: int = field(
        default=0,
        validator=[ge(0), le(65535)],
        metadata={
            "help": "TCP port; 0 = the usual one for SECURITY (993 ssl, 143 starttls).",
            "form": "a port number from 1 to 65535, or 0 for the default",
        },
    )
    security: str = field(
        default="ssl",
        validator=_security,
        metadata={
            "help": "ssl: TLS from the first byte (port 993); starttls: upgrade a plain connection. "
            "The certificate is always verified.",
            "form": "ssl or starttls",
        },
    )
    username: str = field(default="", metadata={"help": "User to log in as."})
    password: Secret = field(default=Secret(""), metadata={"help": "Password for USERNAME (never shown)."})
    folder: str = field(default="INBOX", validator=_folder, metadata={"help": "Folder to read reports from."})
    ca_file: str = field(
        default="",
        validator=_pem_file,
        metadata={
            "help": "PEM file of the CA that signed the server's certificate (a private CA); "
            "replaces the system CAs for this server.",
            "form": "the path of a PEM file",
        },
    )
    timeout: float = field(
        default=30.0,
        validator=gt(0),
        metadata={"help": "Seconds to wait for the server.", "form": "a number of seconds > 0"},
    )
    idle_seconds: float = field(
        default=300.0,
        validator=[gt(0), le(1740)],
        metadata={
            "help": "`tierii feedback watch`: seconds per IDLE (or between polls without IDLE); "
            "under 29 minutes, as RFC 2177 asks.",
            "form": "a number of seconds from 1 to 1740",
        },
    )

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def where(self) -> str:
        return f"{self.host}:{self.effective_port}"

    def problem(self) -> str | None:
        """What is missing to connect, naming the variable; None when nothing is."""
        if not self.host:
            return "TIERII_IMAP_HOST is not set: --imap needs the server holding the reports"
        if not self.username or not self.password:
            return "TIERII_IMAP_USERNAME and TIERII_IMAP_PASSWORD are needed to log in"
        return None
