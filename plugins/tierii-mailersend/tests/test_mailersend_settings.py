"""TIERII_MAILERSEND_* settings: defaults, validation naming the variable, the token masked."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.errors import SettingsError
from tierii_core.models import Secret
from tierii_core.settings import SettingsReader, env_name
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import OFFICIAL_BASE_URL, MailerSendSettings


def load() -> MailerSendSettings:
    return SettingsReader().load(MailerSendProvider.Settings, "mailersend")


def test_defaults_are_the_documented_healthy_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERII_MAILERSEND_BASE_URL")
    settings = load()
    assert settings.base_url == OFFICIAL_BASE_URL == "https://api.mailersend.com/v1/"
    assert (settings.bulk_size, settings.email_per_minute, settings.bulk_per_minute) == (500, 120, 10)
    assert not settings.api_token


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_MAILERSEND_API_TOKEN", "mlsn.abc")
    monkeypatch.setenv("TIERII_MAILERSEND_BASE_URL", "http://127.0.0.1:8025/v1")
    monkeypatch.setenv("TIERII_MAILERSEND_BULK_SIZE", "5")
    monkeypatch.setenv("TIERII_MAILERSEND_POLL_INTERVAL", "0.5")
    settings = load()
    assert settings.api_token == Secret("mlsn.abc")
    assert settings.base_url == "http://127.0.0.1:8025/v1/"  # the SDK joins paths onto it
    assert (settings.bulk_size, settings.poll_interval) == (5, 0.5)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TIERII_MAILERSEND_BULK_SIZE", "501", "from 1 to 500"),
        ("TIERII_MAILERSEND_BULK_SIZE", "0", "from 1 to 500"),
        ("TIERII_MAILERSEND_BULK_SIZE", "lots", "not a whole number"),
        ("TIERII_MAILERSEND_BULK_PER_MINUTE", "0", ">= 1"),
        ("TIERII_MAILERSEND_BASE_URL", "https://api.mailersend.com", "must end with /v1/"),
        ("TIERII_MAILERSEND_BASE_URL", "api.mailersend.com/v1/", "http(s) URL"),
        ("TIERII_MAILERSEND_TIMEOUT", "-1", "> 0"),
        ("TIERII_MAILERSEND_DAILY_QUOTA", "-5", ">= 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_expected_form(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load()
    message = str(caught.value)
    assert variable in message
    assert expected in message


def test_the_token_is_masked_in_reprs_and_setting_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "mlsn.0123456789abcdef-very-secret"
    settings = MailerSendSettings(api_token=Secret(token))
    assert token not in repr(settings)
    assert token not in str(attrs.asdict(settings, recurse=False))
    monkeypatch.setenv("TIERII_MAILERSEND_API_TOKEN", token)
    monkeypatch.setenv("TIERII_MAILERSEND_BULK_SIZE", "9999")
    with pytest.raises(SettingsError) as caught:
        load()
    assert token not in str(caught.value)


def test_check_shows_the_token_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "mlsn.shown-nowhere"
    monkeypatch.setenv("TIERII_MAILERSEND_API_TOKEN", token)
    shown = {o.variable: o.shown() for o in SettingsReader().origins(MailerSendSettings, "mailersend")}
    assert shown["TIERII_MAILERSEND_API_TOKEN"] == "********"
    assert token not in repr(shown)


def test_every_field_documents_itself_for_the_settings_table() -> None:
    for field in attrs.fields(MailerSendSettings):
        assert field.metadata.get("help"), field.name


def test_every_setting_is_in_the_users_documentation() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "providers" / "mailersend.md"
    text = docs.read_text(encoding="utf-8")
    for field in attrs.fields(MailerSendSettings):
        assert f"| `{env_name('mailersend', field.name)}` |" in text, field.name


@given(
    bulk_size=st.integers(1, 500),
    per_minute=st.integers(1, 10_000),
    interval=st.floats(0.001, 3600, allow_nan=False),
    port=st.integers(1, 65535),
)
def test_valid_values_round_trip_through_the_environment(
    bulk_size: int, per_minute: int, interval: float, port: int
) -> None:
    environment = {
        "TIERII_MAILERSEND_BULK_SIZE": str(bulk_size),
        "TIERII_MAILERSEND_BULK_PER_MINUTE": str(per_minute),
        "TIERII_MAILERSEND_POLL_INTERVAL": repr(interval),
        "TIERII_MAILERSEND_BASE_URL": f"http://127.0.0.1:{port}/v1",
    }
    settings = SettingsReader(overrides=environment).load(MailerSendSettings, "mailersend")
    assert (settings.bulk_size, settings.bulk_per_minute, settings.poll_interval) == (
        bulk_size,
        per_minute,
        interval,
    )
    assert settings.base_url == f"http://127.0.0.1:{port}/v1/"
