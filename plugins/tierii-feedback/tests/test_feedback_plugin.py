"""The plugin as `tierii` sees it: registered through its entry point, its settings known to
`tierii check`, and nothing heavy imported by `tierii --help`."""

from __future__ import annotations

import subprocess
import sys

from feedback_helpers import tierii

from tierii_core.plugins import make_plugin_manager, plugin_settings


def test_the_plugin_registers_its_settings() -> None:
    prefixes = {prefix for prefix, _ in plugin_settings(make_plugin_manager())}
    assert {"feedback", "imap"} <= prefixes


def test_help_imports_neither_the_bounce_parsers_nor_the_imap_client() -> None:
    code = (
        "import sys\n"
        "from tierii_core.cli import main\n"
        "sys.argv = ['tierii', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ['flufl', 'flufl.bounce', 'imapclient', 'tierii_feedback.reports',\n"
        "         'tierii_core.feedback_store']\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "feedback" in done.stdout  # the command is there
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_check_knows_the_settings_and_masks_the_password(tierii_environment) -> None:  # type: ignore[no-untyped-def]
    tierii_environment.setenv("TIERII_IMAP_PASSWORD", "a-secret-imap-password")
    tierii_environment.setenv("TIERII_FEEDBACK_SOFT_BOUNCE_LIMIT", "5")
    result = tierii("check")
    assert "TIERII_IMAP_PASSWORD = ********" in result.output
    assert "TIERII_FEEDBACK_SOFT_BOUNCE_LIMIT = 5" in result.output
    assert "a-secret-imap-password" not in result.output
    unknown = [line for line in result.output.splitlines() if "is not a known setting" in line]
    assert not [line for line in unknown if "TIERII_IMAP_" in line or "TIERII_FEEDBACK_" in line]


def test_a_bad_threshold_is_named(tierii_environment) -> None:  # type: ignore[no-untyped-def]
    tierii_environment.setenv("TIERII_FEEDBACK_SOFT_BOUNCE_DAYS", "0")
    result = tierii("feedback", "process", "--imap")
    assert result.exit_code == 2 and "TIERII_FEEDBACK_SOFT_BOUNCE_DAYS" in result.output
