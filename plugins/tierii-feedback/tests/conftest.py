"""Fixtures: a clean environment with a sent campaign, and a real Dovecot on 127.0.0.1.

Dovecot (Debian's dovecot-imapd; ``.ci/dovecot`` installs it) runs from a config written into
a temp directory: one test user with a password, IMAPS and STARTTLS listeners with a
certificate for 127.0.0.1 signed by a trustme test CA. Without Dovecot the IMAP tests skip,
unless TIERII_REQUIRE_DOVECOT=1 (CI), where they fail.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from attrs import frozen
from hypothesis import HealthCheck, settings

from tierii_core.testing.fixtures import tierii_environment  # noqa: F401

sys.path.insert(0, str(Path(__file__).parent))  # feedback_helpers, feedback_mailset (importlib mode)

from feedback_helpers import ADDRESSES, MAILTO, SECRET, TEMPLATE, UNSUBSCRIBE_URL, tierii

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
START_TIMEOUT = 30.0  # a bound on a hang, never a pause


@pytest.fixture
def campaign(tierii_environment: pytest.MonkeyPatch, tmp_path: Path) -> Path:  # noqa: F811  # noqa: F811
    """A marketing campaign sent to ADDRESSES through the outbox; returns the working directory."""
    work = Path.cwd()
    for name, value in {
        "TIERII_STATE_DIR": str(tmp_path / "state"),
        "TIERII_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TIERII_SENDER_ADDRESS": "Green Leaf, 1 Main Street, Springfield",
        "TIERII_UNSUBSCRIBE_URL": UNSUBSCRIBE_URL,
        "TIERII_UNSUBSCRIBE_SECRET": SECRET,
        "TIERII_UNSUBSCRIBE_MAILTO": MAILTO,
    }.items():
        tierii_environment.setenv(name, value)
    with (work / "contacts.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        writer.writerows([a, a.split("@")[0].title()] for a in ADDRESSES)
    (work / "t.mustache").write_text(TEMPLATE)
    result = tierii("send", "contacts.csv", "-t", "t.mustache", "--campaign", "restock")
    assert result.exit_code == 0, result.output
    return work


# -- Dovecot ----------------------------------------------------------------------------------


@frozen
class Dovecot:
    host: str
    imaps_port: int
    imap_port: int
    username: str
    password: str
    ca_file: Path
    maildir: Path

    def environment(self, security: str = "ssl") -> dict[str, str]:
        return {
            "TIERII_IMAP_HOST": self.host,
            "TIERII_IMAP_PORT": str(self.imaps_port if security == "ssl" else self.imap_port),
            "TIERII_IMAP_SECURITY": security,
            "TIERII_IMAP_USERNAME": self.username,
            "TIERII_IMAP_PASSWORD": self.password,
            "TIERII_IMAP_CA_FILE": str(self.ca_file),
        }

    def client(self):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient(self.host, self.imaps_port, ssl=True, ssl_context=context, timeout=10)
        client.login(self.username, self.password)
        return client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(root: Path, imap_port: int, imaps_port: int, uid: int, gid: int) -> str:
    internal = "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
    if os.geteuid() != 0:  # an unprivileged run: every Dovecot process is this user
        user = os.environ.get("USER") or str(os.geteuid())
        internal = f"default_internal_user = {user}\ndefault_login_user = {user}\n"
    return f"""\
# written by tierii-feedback's tests: 127.0.0.1 only, everything under {root}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/lib
log_path = {root}/dovecot.log
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
{internal}first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


#: what an older or stripped-down server announces: no IDLE (watch polls), no MOVE (COPY+EXPUNGE)
PLAIN_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from _dovecot()


@pytest.fixture
def plain_dovecot() -> Iterator[Dovecot]:
    """Dovecot announcing neither IDLE nor MOVE."""
    yield from _dovecot(f"imap_capability = {PLAIN_CAPABILITIES}\n")


def _dovecot(extra_config: str = "") -> Iterator[Dovecot]:
    if not os.access(DOVECOT, os.X_OK):
        if os.environ.get("TIERII_REQUIRE_DOVECOT") == "1":
            pytest.fail(f"TIERII_REQUIRE_DOVECOT=1 but there is no {DOVECOT} (run .ci/dovecot)")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd, or .ci/dovecot)")
    # not under pytest's tmp_path (0700 to its user): Dovecot's auth and mail processes run as
    # other users (dovecot, nobody) and must reach their files
    root = Path(tempfile.mkdtemp(prefix="tierii-dovecot-"))
    root.chmod(0o755)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    (root / "passwd").write_text("feedback:{PLAIN}a-test-imap-password::::::\n")
    uid, gid = (65534, 65534) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    (root / "home").mkdir()
    os.chown(root / "home", uid, gid)
    imap_port, imaps_port = _free_port(), _free_port()
    (root / "dovecot.conf").write_text(_config(root, imap_port, imaps_port, uid, gid) + extra_config)
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(process, imaps_port, root)
        yield Dovecot(
            "127.0.0.1",
            imaps_port,
            imap_port,
            "feedback",
            "a-test-imap-password",
            root / "ca.pem",
            root / "home" / "feedback" / "Maildir",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_listening(process: subprocess.Popen, port: int, root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"dovecot exited ({process.returncode}): {stderr}{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)  # a bounded poll for the listener: Dovecot gives no readiness event
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port} within {START_TIMEOUT}s")
