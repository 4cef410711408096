"""TIERII_SMTP_* settings: read by the core, bad values named, the password masked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tierii_core.errors import SettingsError
from tierii_core.settings import SettingsReader
from tierii_smtp.provider import SmtpProvider
from tierii_smtp.settings import SmtpSettings


def _load(env, **variables):
    for name, value in variables.items():
        env.setenv(f"TIERII_SMTP_{name.upper()}", value)
    return SettingsReader().load(SmtpProvider.Settings, "smtp")


def test_defaults_and_configured(tierii_environment):
    settings = _load(tierii_environment)
    assert (settings.security, settings.effective_port, settings.connections) == ("starttls", 587, 4)
    assert not SmtpProvider.is_configured(settings)
    assert SmtpProvider.is_configured(_load(tierii_environment, host="smtp.example.com"))


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_default_port_follows_the_security(tierii_environment, security, port):
    assert _load(tierii_environment, security=security).effective_port == port
    assert _load(tierii_environment, security=security, port="2525").effective_port == 2525


def test_every_setting_is_read(tierii_environment, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    settings = _load(
        tierii_environment,
        host="mail.example.com",
        port="2525",
        security="ssl",
        username="ann",
        password="s3cret-value",
        timeout="2.5",
        connections="8",
        ca_file=str(ca),
        insecure_skip_verify="true",
        helo_name="sender.example.com",
    )
    assert settings.where == "mail.example.com:2525"
    assert (settings.username, settings.password.reveal()) == ("ann", "s3cret-value")
    assert (settings.timeout, settings.connections, settings.ca_file) == (2.5, 8, str(ca))
    assert settings.insecure_skip_verify and settings.helo_name == "sender.example.com"
    assert "s3cret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("port", "70000", "from 1 to 65535"),
        ("port", "smtp", "whole number"),
        ("security", "tls", "starttls, ssl or none"),
        ("timeout", "0", "seconds > 0"),
        ("connections", "0", "from 1 to 100"),
        ("connections", "500", "from 1 to 100"),
        ("ca_file", "/no/such/ca.pem", "no file at /no/such/ca.pem"),
        ("host", "smtp.example.com:587", "TIERII_SMTP_PORT"),
        ("host", "smtp example com", "contains a space"),
        ("insecure_skip_verify", "perhaps", "true or false"),
    ],
)
def test_a_bad_value_names_its_variable_and_the_expected_form(tierii_environment, field, value, expected):
    with pytest.raises(SettingsError) as refused:
        _load(tierii_environment, **{field: value})
    message = str(refused.value)
    assert f"TIERII_SMTP_{field.upper()}=" in message and expected in message


def test_a_bad_password_value_is_never_echoed(tierii_environment):
    """Every problem is reported; the password is shown masked even next to another's error."""
    with pytest.raises(SettingsError) as refused:
        _load(tierii_environment, password="hunter2-secret", port="x")
    assert "hunter2-secret" not in str(refused.value)


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # same variables each time
@given(
    port=st.integers(1, 65535),
    connections=st.integers(1, 100),
    security=st.sampled_from(["starttls", "ssl", "none"]),
)
def test_valid_values_round_trip(tierii_environment, port, connections, security):
    loaded = _load(tierii_environment, port=str(port), connections=str(connections), security=security)
    assert (loaded.port, loaded.connections, loaded.security) == (port, connections, security)
    assert loaded == SmtpSettings(port=port, connections=connections, security=security)
