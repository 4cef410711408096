"""TLS: certificates are verified (system CAs or CA_FILE); refused unless the loud opt-out is set."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tierii_core.errors import FatalProviderError
from tierii_core.models import Status
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider

pytestmark = pytest.mark.network


@pytest.fixture(params=["starttls", "ssl"])
def security(request) -> str:
    return request.param


@pytest.fixture
def tls_server(scripted_server, server_tls, security):
    if security == "starttls":
        return scripted_server(starttls=server_tls)
    return scripted_server(implicit_tls=server_tls)


def test_verified_with_the_ca_file(tls_server, settings_for, security, ca_file):
    settings = settings_for(tls_server, security=security, ca_file=str(ca_file))
    with SmtpProvider(settings, None) as provider:
        [outcome] = provider.send([make_message("tls@example.com")])
    assert outcome.status is Status.SENT
    assert tls_server.recipients == ["tls@example.com"]


def test_refused_without_the_ca(tls_server, settings_for, security):
    provider = SmtpProvider(settings_for(tls_server, security=security), None)
    with pytest.raises(FatalProviderError) as refused:
        provider.open()
    message = str(refused.value)
    assert f"TLS certificate of 127.0.0.1:{tls_server.port} was refused" in message
    assert "unable to get local issuer certificate" in message and "the system's CAs" in message
    assert "TIERII_SMTP_CA_FILE" in message and "TIERII_SMTP_INSECURE_SKIP_VERIFY=true" in message
    assert tls_server.messages == []


def test_opt_out_accepts_the_unverified_certificate_and_says_so(tls_server, settings_for, security):
    settings = settings_for(tls_server, security=security, insecure_skip_verify=True)
    with capture_logs() as logs, SmtpProvider(settings, None) as provider:
        [outcome] = provider.send([make_message("unverified@example.com")])
    assert outcome.status is Status.SENT
    assert tls_server.recipients == ["unverified@example.com"]
    warnings = [e for e in logs if e["event"] == "smtp.certificate_not_verified"]
    assert warnings and warnings[0]["log_level"] == "warning"
    assert warnings[0]["setting"] == "TIERII_SMTP_INSECURE_SKIP_VERIFY"


def test_a_certificate_for_another_host_is_refused_even_with_the_ca(
    scripted_server, wrong_host_tls, settings_for, security, ca_file
):
    if security == "starttls":
        server = scripted_server(starttls=wrong_host_tls)
    else:
        server = scripted_server(implicit_tls=wrong_host_tls)
    provider = SmtpProvider(settings_for(server, security=security, ca_file=str(ca_file)), None)
    with pytest.raises(FatalProviderError, match=r"(?i)hostname mismatch|not valid for '127\.0\.0\.1'"):
        provider.open()


def test_starttls_missing_is_fatal_and_names_the_setting(server, settings_for):
    provider = SmtpProvider(settings_for(server, security="starttls"), None)
    with pytest.raises(FatalProviderError) as refused:
        provider.open()
    assert "does not offer STARTTLS" in str(refused.value)
    assert "TIERII_SMTP_SECURITY" in str(refused.value)


def test_implicit_tls_against_a_plain_server_fails_with_a_hint(server, settings_for, ca_file):
    provider = SmtpProvider(settings_for(server, security="ssl", ca_file=str(ca_file)), None)
    with pytest.raises(FatalProviderError) as refused:
        provider.open()
    assert f"TLS with 127.0.0.1:{server.port} failed" in str(refused.value)
    assert "port 465" in str(refused.value)


def test_check_shows_the_negotiated_tls_and_certificate(tls_server, settings_for, security, ca_file):
    steps = list(
        SmtpProvider(settings_for(tls_server, security=security, ca_file=str(ca_file)), None).check()
    )
    assert all(step.ok for step in steps), steps
    details = " ".join(step.detail for step in steps)
    assert "TLSv1." in details and "certificate for" in details
    if security == "starttls":
        assert [s.step for s in steps] == ["settings", "connect", "ehlo", "starttls", "ehlo", "auth", "quit"]
