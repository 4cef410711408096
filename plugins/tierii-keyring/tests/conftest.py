"""Real keyrings for the tierii-keyring tests, and the ``tierii`` command in a subprocess.

- ``file_keyring``: keyrings.alt's encrypted file keyring in a scratch home, unlocked by a
  password from the environment (``tierii_keyring.testing``), for this process and the
  ``tierii`` processes a test starts.
- ``secret_service``: a gnome-keyring-daemon on a private D-Bus session (``dbus-run-session``),
  its login keyring unlocked; skipped when Debian's gnome-keyring/dbus are missing, unless
  TIERII_REQUIRE_SECRET_SERVICE=1 (CI, ``.ci/keyring``), where it fails.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierii_core.testing.fixtures import smtp_sink  # noqa: F401 (a fixture)
from tierii_core.testing.smtp_sink import SmtpSink
from tierii_keyring.testing import PASSWORD_VARIABLE

FILE_BACKEND = "tierii_keyring.testing.EnvironmentPasswordKeyring"
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
FILE_KEYRING_PASSWORD = "file-keyring-Pw_42"
#: the SMTP log-in ``auth_sink`` requires (the tests keep its password in a keyring)
SMTP_USER = "shop"
SMTP_PASSWORD = "cli-Pw_never-shown-42"
#: variables of the machine a test's processes must not see: its settings, keyring and D-Bus
_MACHINE = ("TIERII_", "PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", PASSWORD_VARIABLE)

TEMPLATE = """\
Subject: {{first_name}}, your order is ready
From: Green Leaf <shop@greenleaf.example>

Hi {{first_name}}, your code is {{code}}.
Advertisement.
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""


def home_environment(home: Path) -> dict[str, str]:
    """A home of its own: keyring's config and data, and gnome-keyring's files, live under it."""
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }


class Tierii:
    """Settings, contacts and a template in a scratch directory; ``tierii`` run as a user would."""

    def __init__(self, root: Path, keyring_env: dict[str, str]) -> None:
        self.root = root
        self.work = root / "campaign"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(_MACHINE)}
        self.env.update(keyring_env)
        self.env.update(
            TIERII_SENDER_ADDRESS="Green Leaf, 1 Main Street, Springfield, IL 62701",
            TIERII_UNSUBSCRIBE_URL="https://greenleaf.example/unsubscribe",
            TIERII_UNSUBSCRIBE_SECRET="test-unsubscribe-0123456789abcdef",
            TIERII_RETRY_DELAY="0.01",
            TIERII_STATE_DIR=str(self.work / "state"),
        )

    def smtp(self, port: int, username: str, **settings: str) -> None:
        self.env.update(
            TIERII_PROVIDER="smtp",
            TIERII_SMTP_HOST="127.0.0.1",
            TIERII_SMTP_PORT=str(port),
            TIERII_SMTP_SECURITY="none",
            TIERII_SMTP_USERNAME=username,
            TIERII_SMTP_RELAY_SIGNS="true",  # what is tested is the password, not DKIM
        )
        self.env.update({f"TIERII_SMTP_{k.upper()}": v for k, v in settings.items()})

    def contacts(self, count: int) -> list[str]:
        emails = [f"buyer{i}@example.com" for i in range(count)]
        with (self.work / "contacts.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "first_name", "code"])
            writer.writerows([email, f"Ann{i}", f"C{i:04d}"] for i, email in enumerate(emails))
        (self.work / "offer.mustache").write_text(TEMPLATE, encoding="utf-8")
        return emails

    def send(self, *options: str) -> subprocess.CompletedProcess[str]:
        return self.tierii("send", "contacts.csv", "-t", "offer.mustache", *options)

    def tierii(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from tierii_core.cli import main; main()", *args],
            cwd=self.work,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,  # a bound on a hang
        )

    def files_written(self) -> list[Path]:
        """Every file under the scratch root: campaign, state, report, logs, keyring files."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The encrypted file keyring, for this process (keyring's global backend) and as the
    environment of the processes a test starts; returns that environment."""
    import keyring

    from tierii_keyring.testing import EnvironmentPasswordKeyring

    env = home_environment(tmp_path / "home")
    env.update({"PYTHON_KEYRING_BACKEND": FILE_BACKEND, PASSWORD_VARIABLE: FILE_KEYRING_PASSWORD})
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    previous = keyring.get_keyring()
    keyring.set_keyring(EnvironmentPasswordKeyring())
    try:
        yield env
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def tierii(tmp_path: Path, file_keyring: dict[str, str]) -> Tierii:
    """``tierii`` with the encrypted file keyring (the same one this process sees)."""
    return Tierii(tmp_path, file_keyring)


@pytest.fixture
def auth_sink() -> Iterator[SmtpSink]:
    """aiosmtpd on 127.0.0.1 that requires AUTH as ``shop`` with ``SMTP_PASSWORD``."""
    sink = SmtpSink(credentials=(SMTP_USER, SMTP_PASSWORD))
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# -- the Secret Service ------------------------------------------------------------------------

HOLDER = """\
echo "bus=$DBUS_SESSION_BUS_ADDRESS"
printf '%s' "$LOGIN_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
echo ready
cat >/dev/null
"""


class SecretService:
    """A D-Bus session with gnome-keyring-daemon in it, alive until :meth:`stop`.

    ``dbus-run-session`` runs a shell that starts the daemon (its login keyring created and
    unlocked with a password on stdin), says ``ready``, then waits for its own stdin to close.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        runtime = home / "run"
        runtime.mkdir(parents=True, mode=0o700)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_MACHINE)}
        env.update(home_environment(home), XDG_RUNTIME_DIR=str(runtime), LOGIN_PASSWORD="login-Pw_7")
        self.process = subprocess.Popen(
            ["dbus-run-session", "--", "sh", "-c", HOLDER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        ready = self.process.stdout.readline().strip()
        if not first.startswith("bus=") or ready != "ready":
            self.stop()
            raise RuntimeError(f"gnome-keyring-daemon did not start: {first!r} {ready!r}")
        self.address = first.removeprefix("bus=")

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use this keyring through keyring's SecretService backend."""
        return {
            **home_environment(self.home),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
        }

    def stop(self) -> None:
        """Close the holder's stdin: the shell ends, and dbus-run-session takes the bus and the
        daemon down with it."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def secret_service(tmp_path: Path) -> Iterator[SecretService]:
    missing = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("TIERII_REQUIRE_SECRET_SERVICE") == "1":
            pytest.fail(
                f"TIERII_REQUIRE_SECRET_SERVICE=1 but {', '.join(missing)} is missing (run .ci/keyring)"
            )
        pytest.skip(
            f"no Secret Service here ({', '.join(missing)} missing: apt-get install gnome-keyring dbus)"
        )
    service = SecretService(tmp_path / "home")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def tierii_secret_service(tmp_path: Path, secret_service: SecretService) -> Tierii:
    """``tierii`` with the Secret Service as its keyring (no file keyring anywhere)."""
    return Tierii(tmp_path, secret_service.env)
