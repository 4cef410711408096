"""The "Write your first plugin" tutorial, run as a reader runs it: a fresh virtualenv, real pip.

Slow (pip installs into a new venv; dependencies may come from PyPI). The script is
docs/examples/first-plugin.sh, whose sections the tutorial page includes; only its
`pip install "tierii-core[test]"` line is replaced, by an editable install of this checkout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docs" / "examples" / "first-plugin.sh"
FROM_PYPI = 'pip install "tierii-core[test]"'


@pytest.mark.slow
def test_a_reader_ends_with_the_plugin_listed_and_its_contract_tests_passing(tmp_path):
    script = SCRIPT.read_text(encoding="utf-8")
    assert FROM_PYPI in script, "the tutorial installs tierii-core; keep this test's substitution in step"
    local = f'pip install --quiet -e "{ROOT}[test]"'
    (tmp_path / "tutorial.sh").write_text(script.replace(FROM_PYPI, local), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERII_", "VIRTUAL_ENV", "PYTHON"))}
    completed = subprocess.run(["bash", "tutorial.sh"], cwd=tmp_path, env=env, capture_output=True, text=True)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]

    assert "24 passed" in completed.stdout or " passed in " in completed.stdout
    assert not re.search(r"\b\d+ failed\b", completed.stdout)  # pytest's count of failed tests
    assert "Subject: Hello Zoë" in completed.stdout
    assert "failed (invalid email address 'not an address')" in completed.stdout

    tierii = tmp_path / ".venv" / "bin" / "tierii"
    listed = subprocess.run(
        [str(tierii), "plugins", "--json"], capture_output=True, text=True, env=env, check=True
    )
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "tierii-crm"]
    assert (row["distribution"], row["components"]) == ("tierii-crm", ["source:crm"])

    removed = subprocess.run(
        [str(tierii), "uninstall", "-y", "tierii-crm"], capture_output=True, text=True, env=env
    )
    assert removed.returncode == 0, removed.stderr
    after = subprocess.run(
        [str(tierii), "plugins", "--json"], capture_output=True, text=True, env=env, check=True
    )
    assert "tierii-crm" not in {r["name"] for r in json.loads(after.stdout)}
