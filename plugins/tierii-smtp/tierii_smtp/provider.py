"""The ``smtp`` provider: batches go out over pooled connections in parallel.

The connection code (ssl, smtplib, the pool) is imported when the provider opens, not when
the plugin loads: every ``tierii`` command, ``--help`` included, loads every plugin.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING

from attrs import frozen

from tierii_core.components import DeliveryProvider
from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.logs import get_logger
from tierii_core.models import CheckStep, Credentials, Message, Outcome, Status
from tierii_smtp.settings import NAME, SmtpSettings, configuration_problem

if TYPE_CHECKING:
    from tierii_smtp.drive import Job
    from tierii_smtp.pool import SessionPool
    from tierii_smtp.session import ConnectionSlots, Session

log = get_logger()


@frozen
class _SliceResult:
    outcomes: list[Outcome]
    fatal: FatalProviderError | None = None


class SmtpProvider(DeliveryProvider):
    """Sends through an SMTP server: pooled parallel connections, verified TLS, AUTH."""

    name = NAME
    priority = 50
    max_batch = 400
    Settings = SmtpSettings
    dkim_signs = True

    def __init__(self, settings: SmtpSettings, credentials: Credentials | None) -> None:
        super().__init__(settings, credentials)
        # the user's word that the relay DKIM-signs with their domain (TIERII_SMTP_RELAY_SIGNS)
        self.signs_for_sender = settings.relay_signs
        #: the seam for connection caps shared beyond this process (see ConnectionSlots): None
        #: caps connections per process at TIERII_SMTP_CONNECTIONS, by the pool's size alone
        self.connection_slots: ConnectionSlots | None = None
        self._pool: SessionPool | None = None
        self._stopped: FatalProviderError | None = None
        self._interrupted = False

    @classmethod
    def is_configured(cls, settings: SmtpSettings) -> bool:
        return bool(settings.host)

    @property
    def max_connections(self) -> int:
        """TIERII_SMTP_CONNECTIONS: the cap a shared ``connection_slots`` applies to all processes."""
        return self.settings.connections

    @property
    def connection_key(self) -> str:
        """The server the connections go to: processes sharing slots share them per server."""
        return self.settings.where

    def open(self) -> None:
        from tierii_smtp import tls
        from tierii_smtp.pool import SessionPool
        from tierii_smtp.session import Failure, Session, SetupFailed, local_name

        problem = configuration_problem(self.settings, self.credentials)
        if problem:
            raise ConfigurationError(problem)
        settings = self.settings
        context = tls.client_context(settings)
        helo_name = settings.helo_name or local_name()
        credentials = self.credentials

        slots = self.connection_slots

        def make_session() -> Session:
            return Session(settings, credentials, context, helo_name, slots)

        self._pool = SessionPool(make_session, settings.connections, hand_back=slots is not None)
        self._stopped = None
        self._interrupted = False
        if settings.insecure_skip_verify and settings.security != "none":
            log.warning("smtp.certificate_not_verified", server=settings.where, setting=tls.OPT_OUT)
        if settings.security == "none" and self.credentials and self.credentials.username:
            log.warning("smtp.password_unencrypted", server=settings.where, security="none")
        with self._pool.session() as session:  # fail now on bad credentials or certificate
            try:
                session.setup()
            except SetupFailed as exc:
                if exc.failure is Failure.TRANSIENT:
                    log.warning("smtp.not_ready", server=settings.where, reason=str(exc))
                else:
                    self.close()
                    raise FatalProviderError(str(exc)) from None
        log.info(
            "smtp.opened",
            server=settings.where,
            security=settings.security,
            connections=settings.connections,
            user=self.credentials.username if self.credentials else None,
        )

    def interrupt(self) -> None:
        """Unblock every connection now: the message in flight becomes unknown (if its data
        went out) or transient, the rest of each slice is not sent."""
        self._interrupted = True
        pool = self._pool
        if pool is not None:
            pool.abort()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def send(self, messages: Sequence[Message]) -> list[Outcome]:
        if self._stopped is not None:
            raise FatalProviderError(str(self._stopped))
        if self._pool is None:
            raise RuntimeError("SmtpProvider.send() called before open()")
        results = self._pool.map(self._deliver_slice, messages)
        outcomes = [outcome for result in results for outcome in result.outcomes]
        fatal = next((result.fatal for result in results if result.fatal), None)
        if fatal is not None:
            self._stopped = self._stopped or fatal
            if not any(o.status in (Status.SENT, Status.UNKNOWN) for o in outcomes):
                raise fatal
            # some were accepted: report them; the next call raises before sending anything
        return outcomes

    def _deliver_slice(self, session: Session, messages: Sequence[Message]) -> Job[_SliceResult]:
        """A slice's transactions as a job for :func:`tierii_smtp.drive.drive`."""
        from tierii_smtp.session import Failure, SetupFailed
        from tierii_smtp.transaction import ServerStalled, deliver_all

        outcomes: list[Outcome] = []
        if self._interrupted:
            return _SliceResult(_not_sent(messages, INTERRUPTED))
        session.refresh()
        try:
            with closing(deliver_all(session, messages, self.message_bytes)) as delivering:
                resume = None
                while True:
                    try:
                        step = delivering.send(resume)
                    except StopIteration:
                        break
                    if not isinstance(step, Outcome):  # a wait: the driver's
                        resume = yield step
                        continue
                    resume = None
                    outcome = step
                    outcomes.append(outcome)
                    if self._stopped is not None:  # another slice hit a fatal error
                        rest = messages[len(outcomes) :]
                        return _SliceResult(outcomes + _not_sent(rest, str(self._stopped)))
                    if self._interrupted:
                        return _SliceResult(outcomes + _not_sent(messages[len(outcomes) :], INTERRUPTED))
        except ServerStalled as exc:
            log.warning("smtp.stalled", server=self.settings.where, reason=str(exc))
            reason = f"{self.settings.where} stopped answering ({exc})"
            return _SliceResult(outcomes + _not_sent(messages[len(outcomes) :], reason))
        except SetupFailed as exc:
            rest = _not_sent(messages[len(outcomes) :], str(exc))
            if exc.failure is Failure.FATAL:
                fatal = FatalProviderError(str(exc))
                self._stopped = self._stopped or fatal
                return _SliceResult(outcomes + rest, fatal)
            # cannot connect now: the core retries these later, with backoff
            log.warning("smtp.connect_failed", server=self.settings.where, reason=str(exc))
            return _SliceResult(outcomes + rest)
        except FatalProviderError as exc:
            self._stopped = self._stopped or exc
            return _SliceResult(outcomes + _not_sent(messages[len(outcomes) :], str(exc)), exc)
        return _SliceResult(outcomes)

    def check(self) -> Iterator[CheckStep]:
        from tierii_smtp.check import check_steps

        yield from check_steps(self.settings, self.credentials)


INTERRUPTED = "the run was interrupted"


def _not_sent(messages: Sequence[Message], reason: str) -> list[Outcome]:
    return [Outcome.transient(m, NAME, f"not sent: {reason}") for m in messages]
