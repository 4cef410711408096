"""``tierii check --provider smtp``: each set-up step against the real server, with details."""

from __future__ import annotations

from collections.abc import Iterator

from tierii_core.models import CheckStep, Credentials
from tierii_smtp import tls
from tierii_smtp.session import Session, SetupFailed, local_name
from tierii_smtp.settings import SmtpSettings, configuration_problem


def check_steps(settings: SmtpSettings, credentials: Credentials | None) -> Iterator[CheckStep]:
    """settings, connect, ehlo, starttls (+ ehlo again), auth, quit; stops at the first failure."""
    problem = configuration_problem(settings, credentials)
    if problem:
        yield CheckStep("settings", False, problem)
        return
    yield CheckStep("settings", True, _summary(settings))
    session = Session(settings, credentials, tls.client_context(settings), settings.helo_name or local_name())
    try:
        greeting = session.connect()
        detail = f"connected, greeting {greeting.code}"
        if settings.security == "ssl":
            detail += f"; {tls.describe(session.conn.sock)}"  # type: ignore[union-attr, arg-type]
        yield CheckStep("connect", True, f"{settings.where}: {detail}")
        session.ehlo()
        yield CheckStep("ehlo", True, f"capabilities: {', '.join(session.capabilities()) or '(none)'}")
        if settings.security == "starttls":
            yield CheckStep("starttls", True, session.starttls())
            session.ehlo()
            capabilities = ", ".join(session.capabilities())
            yield CheckStep("ehlo", True, f"after STARTTLS, capabilities: {capabilities}")
        elif settings.security == "none":
            yield CheckStep("tls", True, "SECURITY=none: the connection is NOT encrypted")
        if session.username:
            yield CheckStep("auth", True, session.login())
        else:
            offered = session.conn.esmtp_features.get("auth") if session.conn else None
            note = f" (the server offers AUTH {offered.strip()})" if offered else ""
            yield CheckStep("auth", True, f"no TIERII_SMTP_USERNAME: not logging in{note}")
        reply = session.quit()
        said = str(reply) if reply else "the server closed the connection"
        yield CheckStep("quit", reply is not None, said)
    except SetupFailed as exc:
        yield CheckStep(exc.step, False, str(exc))
    finally:
        session.drop()


def _summary(settings: SmtpSettings) -> str:
    if settings.security == "none":
        verify = "no TLS"
    elif settings.insecure_skip_verify:
        verify = f"certificate NOT verified ({tls.OPT_OUT}=true)"
    else:
        verify = f"certificate verified against {settings.ca_file or 'the system CAs'}"
    return (
        f"{settings.where}, security {settings.security}, {verify}, "
        f"{settings.connections} connections, timeout {settings.timeout:g}s"
    )
