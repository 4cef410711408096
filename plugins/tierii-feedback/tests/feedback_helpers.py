"""What the tests share: the campaign's addresses and settings, `tierii` in-process, the list.

(Imported by name: the tests run in importlib mode, conftest.py puts this folder on sys.path.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from tierii_core.cli import cli
from tierii_core.models import Secret
from tierii_core.suppression import SuppressionList
from tierii_core.unsubscribe import UnsubscribeLinks
from tierii_feedback.commands import feedback

cli.add_command(feedback)  # what the plugin's tierii_register_commands hook does in `tierii`

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
START_TIMEOUT = 30.0  # a bound on a hang, never a pause
SECRET = "a-test-secret-for-unsubscribe-links"
UNSUBSCRIBE_URL = "https://shop.example/unsubscribe"
MAILTO = "unsubscribe@shop.example"
ADDRESSES = [
    "ana@example.com",
    "ben@example.net",
    "cara@example.org",
    "dev@yahoo.example",
    "eli@example.com",
    "fay@example.net",
    "gus@example.org",
    "hal@example.com",
    "ivy@example.net",
    "jo@example.org",
]
TEMPLATE = """\
Subject: Your restock is in, {{name}}
From: Green Leaf <hello@shop.example>

Advertisement. Hi {{name}}, it is back.

{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""

LINKS = UnsubscribeLinks(UNSUBSCRIBE_URL, Secret(SECRET), MAILTO)


def tierii(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def suppressions(state: Path) -> dict[str, str]:
    listing = SuppressionList(state, read_only=True)
    try:
        return {s.entry: s.reason for s in listing}
    finally:
        listing.close()
