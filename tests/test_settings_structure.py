"""Settings of the simple types are structured without cattrs, exactly as cattrs would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.settings import Secret, converter, structure

raw_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["1", "0", "true", "False", " yes ", "no", "on", "off", "42", "-3", "2.5", "1e3", "~/x"]),
)


@given(raw_values, st.sampled_from([str, bool, int, float, Path, Secret]))
def test_the_same_value_or_the_same_refusal_as_the_cattrs_converter(raw: str, kind: type) -> None:
    try:
        expected = converter().structure(raw, kind)
    except Exception as exc:  # the converter's refusal: ours refuses too, with a ValueError
        with pytest.raises((ValueError, TypeError)):
            structure(raw, kind)
        assert isinstance(exc, (ValueError, TypeError)) or type(exc).__module__.startswith("cattrs")
        return
    assert structure(raw, kind) == expected


def test_loading_the_core_settings_does_not_import_cattrs() -> None:
    code = (
        "import sys\n"
        "from tierii_core.settings import CoreSettings, SettingsReader\n"
        "SettingsReader({'TIERII_BATCH_SIZE': '7', 'TIERII_RETRY_DELAY': '0.5'}).load(CoreSettings)\n"
        "print('cattrs' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"
