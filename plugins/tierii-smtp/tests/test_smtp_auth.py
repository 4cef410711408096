"""AUTH with the credentials the core resolves; a refused log-in stops the run before any DATA."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tierii_core import hookimpl
from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.models import Credentials, Secret, Status
from tierii_core.plugins import make_plugin_manager
from tierii_core.testing import make_message
from tierii_smtp.provider import SmtpProvider

pytestmark = [
    pytest.mark.network,
    # AUTH without TLS on purpose (the STARTTLS case is tested too): quiet aiosmtpd's warning
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

PASSWORD = "pw-Zx9!secret"


def _login(user: str = "ann", password: str = PASSWORD) -> Credentials:
    return Credentials(username=user, secret=Secret(password))


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_logs_in_with_the_offered_mechanism(scripted_server, settings_for, mechanism):
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    server = scripted_server(credentials=("ann", PASSWORD), auth_exclude=(other,))
    with SmtpProvider(settings_for(server), _login()) as provider:
        outcomes = provider.send([make_message("one@example.com"), make_message("two@example.com")])
    assert [o.status for o in outcomes] == [Status.SENT, Status.SENT]
    assert {m.login for m in server.messages} == {"ann"}
    assert {attempt[0] for attempt in server.auth_attempts} == {mechanism}


def test_logs_in_over_starttls(scripted_server, server_tls, settings_for, ca_file):
    server = scripted_server(starttls=server_tls, credentials=("ann", PASSWORD))
    settings = settings_for(server, security="starttls", ca_file=str(ca_file))
    with SmtpProvider(settings, _login()) as provider:
        [outcome] = provider.send([make_message("tls-auth@example.com")])
    assert outcome.status is Status.SENT
    assert server.messages[0].login == "ann"


def test_credentials_come_from_the_hook_not_from_the_settings(
    scripted_server, settings_for, tierii_environment
):
    """A keyring plugin answers tierii_resolve_credentials: the settings hold no password at all."""
    server = scripted_server(credentials=("vault-user", PASSWORD))

    class Keyring:
        @hookimpl
        def tierii_resolve_credentials(self, provider, settings):
            return Credentials("vault-user", Secret(PASSWORD)) if provider == "smtp" else None

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Keyring(), name="keyring")
    settings = settings_for(server)
    assert settings.username == "" and not settings.password
    credentials = pm.hook.tierii_resolve_credentials(provider="smtp", settings=settings)
    with SmtpProvider(settings, credentials) as provider:
        [outcome] = provider.send([make_message("vault@example.com")])
    assert outcome.status is Status.SENT
    assert server.messages[0].login == "vault-user"


def test_wrong_password_stops_at_open_before_any_message(scripted_server, settings_for):
    server = scripted_server(credentials=("ann", "the-right-one"))
    provider = SmtpProvider(settings_for(server), _login())
    with capture_logs() as logs, pytest.raises(FatalProviderError) as refused:
        provider.open()
    message = str(refused.value)
    assert "authentication failed" in message and "'ann'" in message
    assert "535" in message and "TIERII_SMTP_PASSWORD" in message
    assert PASSWORD not in message and PASSWORD not in repr(logs)
    assert server.messages == []


def test_a_server_wanting_auth_we_did_not_give_stops_the_send(scripted_server, settings_for):
    server = scripted_server(credentials=("ann", PASSWORD))
    with SmtpProvider(settings_for(server), None) as provider, pytest.raises(FatalProviderError, match="530"):
        provider.send([make_message("a@example.com"), make_message("b@example.com")])
    assert server.messages == []


def test_auth_failure_after_some_were_accepted_keeps_their_outcomes(server, settings_for):
    """Raising would lose the accepted ones; they are returned, and the next call raises."""
    server.refuse["c@example.com"] = "530 5.7.0 Authentication required"
    messages = [make_message(f"{x}@example.com") for x in "abcd"]
    with SmtpProvider(settings_for(server, connections=1), None) as provider:
        outcomes = provider.send(messages)
        with pytest.raises(FatalProviderError, match="530"):
            provider.send([make_message("e@example.com")])
    by_email = {o.email: o for o in outcomes}
    assert by_email["a@example.com"].status is Status.SENT
    assert by_email["b@example.com"].status is Status.SENT
    for email in ("c@example.com", "d@example.com"):
        assert by_email[email].status is Status.FAILED and by_email[email].is_transient
        assert "530" in by_email[email].reason
    assert server.recipients == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(
    ("credentials", "variable"),
    [
        (Credentials(username="ann", secret=None), "TIERII_SMTP_PASSWORD"),
        (Credentials(username=None, secret=Secret(PASSWORD)), "TIERII_SMTP_USERNAME"),
    ],
)
def test_half_the_credentials_is_a_configuration_error(server, settings_for, credentials, variable):
    provider = SmtpProvider(settings_for(server), credentials)
    with pytest.raises(ConfigurationError, match=variable) as refused:
        provider.open()
    assert PASSWORD not in str(refused.value)


def test_the_password_never_shows(settings_for, server):
    settings = settings_for(server, username="ann", password=Secret(PASSWORD))
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
