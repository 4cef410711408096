"""Settings: precedence, structuring, clear errors naming the variable, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from attrs import field, frozen
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.errors import SettingsError
from tierii_core.models import Secret
from tierii_core.settings import CoreSettings, SettingsReader, env_name


@frozen
class ExampleSettings:
    host: str = ""
    port: int = 25
    timeout: float = 10.0
    verify: bool = True
    password: Secret = field(default=Secret(""))
    folder: Path = Path("out")


def test_defaults_when_nothing_is_set() -> None:
    assert SettingsReader().load(ExampleSettings, "example") == ExampleSettings()


def test_option_beats_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TIERII_EXAMPLE_HOST=from-dotenv\nTIERII_EXAMPLE_PORT=2525\nTIERII_EXAMPLE_TIMEOUT=3\n")
    monkeypatch.setenv("TIERII_EXAMPLE_PORT", "587")
    monkeypatch.setenv("TIERII_EXAMPLE_TIMEOUT", "4")
    reader = SettingsReader({"TIERII_EXAMPLE_TIMEOUT": "5"}, env_file=dotenv)
    settings = reader.load(ExampleSettings, "example")
    assert (settings.host, settings.port, settings.timeout) == ("from-dotenv", 587, 5.0)
    sources = {o.variable: o.source for o in reader.origins(ExampleSettings, "example")}
    assert sources["TIERII_EXAMPLE_HOST"] == ".env"
    assert sources["TIERII_EXAMPLE_PORT"] == "environment"
    assert sources["TIERII_EXAMPLE_TIMEOUT"] == "option"
    assert sources["TIERII_EXAMPLE_VERIFY"] == "default"


def test_dotenv_in_the_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text("TIERII_PROVIDER=smtp\n")
    assert SettingsReader().load(CoreSettings).provider == "smtp"


def test_every_bad_value_is_reported_with_its_variable_and_expected_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIERII_EXAMPLE_PORT", "twenty-five")
    monkeypatch.setenv("TIERII_EXAMPLE_VERIFY", "maybe")
    with pytest.raises(SettingsError) as caught:
        SettingsReader().load(ExampleSettings, "example")
    message = str(caught.value)
    assert "TIERII_EXAMPLE_PORT='twenty-five' (environment)" in message
    assert "expected a whole number" in message
    assert "TIERII_EXAMPLE_VERIFY='maybe'" in message
    assert "expected true or false" in message


def test_validators_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_CONCURRENCY", "0")
    with pytest.raises(SettingsError, match=r"TIERII_CONCURRENCY='0'.*expected a whole number >= 1"):
        SettingsReader().load(CoreSettings)


def test_a_bad_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    @frozen
    class Numbered:
        pin: Secret | None = None
        code: int = 0

    monkeypatch.setenv("TIERII_X_CODE", "hunter2")
    with pytest.raises(SettingsError) as caught:
        SettingsReader().load(Numbered, "x")
    assert "hunter2" in str(caught.value)  # not a secret field: shown to help
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r}"
    assert secret.reveal() == "hunter2"


def test_secrets_are_masked_in_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_EXAMPLE_PASSWORD", "s3cret-value")
    shown = [o.shown() for o in SettingsReader().origins(ExampleSettings, "example")]
    assert "********" in shown
    assert not any("s3cret" in s for s in shown)


def test_env_names() -> None:
    assert env_name("smtp", "host") == "TIERII_SMTP_HOST"
    assert env_name(None, "state_dir") == "TIERII_STATE_DIR"


@given(
    port=st.integers(min_value=-(10**12), max_value=10**12),
    timeout=st.floats(allow_nan=False, allow_infinity=False, width=64),
    verify=st.booleans(),
    host=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40),
    spelling=st.sampled_from([str, str.upper, str.title]),
)
def test_values_round_trip_through_their_text_form(
    port: int, timeout: float, verify: bool, host: str, spelling
) -> None:
    overrides = {
        "TIERII_EXAMPLE_PORT": str(port),
        "TIERII_EXAMPLE_TIMEOUT": repr(timeout),
        "TIERII_EXAMPLE_VERIFY": spelling(str(verify).lower()),
        "TIERII_EXAMPLE_HOST": host,
    }
    settings = SettingsReader(overrides).load(ExampleSettings, "example")
    assert (settings.port, settings.timeout, settings.verify, settings.host) == (port, timeout, verify, host)
