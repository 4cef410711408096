"""The campaign loop: stream -> check -> render -> batch -> deliver -> record -> notify.

Everything that can be wrong with the configuration is found in :meth:`Campaign.prepare`,
before the first message leaves. After that, a recipient's problem is an :class:`Outcome`
and the run goes on; only a fatal provider error or an interruption stops it (exit 3).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import structlog
from attrs import define, frozen

from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.compose import ComposeError, Composer, parse_address
from tierii_core.errors import ConfigurationError, FatalProviderError, RunStopped
from tierii_core.models import Contact, ErrorKind, Message, Outcome, Rejected, RunInfo, RunSummary, Status
from tierii_core.observe import notify
from tierii_core.plugins import PluginManager, Registry
from tierii_core.settings import CoreSettings, SettingsReader

log = structlog.get_logger()

CIRCUIT_BREAKER_THRESHOLD = 50


@frozen
class SendOptions:
    """What one ``tierii send``/``preview`` asks for (command-line options, already parsed)."""

    contacts: str
    template: Path
    html: Path | None = None
    subject: str | None = None
    sender: str | None = None
    campaign: str | None = None
    dry_run: bool = False
    limit: int | None = None


@frozen
class Prepared:
    """A message to deliver, or the outcome already decided for a record (excluded, failed)."""

    message: Message | None = None
    outcome: Outcome | None = None
    origin: str = ""


def campaign_id(options: SendOptions, providers: Sequence[str]) -> str:
    """A stable name for a campaign: the source, templates, subject and providers."""
    if options.campaign:
        return options.campaign
    parts = [
        str(Path(options.contacts).resolve()) if Path(options.contacts).exists() else options.contacts,
        str(options.template.resolve()),
        str(options.html.resolve()) if options.html else "",
        options.subject or "",
        ",".join(providers),
    ]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]
    return f"{Path(options.template).stem}-{digest}"


class Campaign:
    """One run of a campaign: prepared once, then :meth:`run` (or :meth:`preview`)."""

    def __init__(
        self,
        pm: PluginManager,
        reader: SettingsReader,
        options: SendOptions,
        core: CoreSettings | None = None,
    ) -> None:
        self.pm = pm
        self.registry = Registry(pm)
        self.reader = reader
        self.options = options
        self.core = core or reader.load(CoreSettings)

    # -- preparation: every configuration error surfaces here -------------------------------

    def prepare(self, *, need_provider: bool = True) -> None:
        source_cls = self.registry.claiming("source", self.options.contacts)
        self.source: ContactSource = source_cls(self.options.contacts, self._settings_of(source_cls))
        self.source.validate()
        engine_cls = self.registry.claiming("engine", str(self.options.template))
        engine = engine_cls(self._settings_of(engine_cls))
        self.composer = Composer(
            self.options.template,
            engine,
            html_path=self.options.html,
            subject=self.options.subject,
            sender=self.options.sender,
            default_sender=self._default_sender(),
        )
        self.provider: DeliveryProvider | None = None
        self.provider_names: tuple[str, ...] = ()
        if need_provider:
            self.provider = self._select_provider()
            self.provider_names = (self.provider.name,)
        self.campaign = campaign_id(self.options, self.provider_names)

    def _settings_of(self, cls: type) -> Any:
        return self.reader.load(cls.Settings, cls.name)

    def _default_sender(self) -> Any:
        if not self.core.from_email:
            return None
        try:
            return attrs.evolve(
                parse_address(self.core.from_email, "TIERII_FROM_EMAIL"), name=self.core.from_name
            )
        except ValueError as exc:
            raise ConfigurationError(f"{exc}; expected an address such as shop@example.com") from None

    def _select_provider(self) -> DeliveryProvider:
        requested = [n.strip() for n in self.core.provider.split(",") if n.strip()] or ["auto"]
        if len(requested) > 1:
            raise ConfigurationError(
                f"provider chain {','.join(requested)!r}: fallback between providers is not available "
                "in this version; name one provider"
            )
        name = requested[0]
        if name == "auto":
            candidates = []
            for info in self.registry.components("provider"):
                settings = self._settings_of(info.cls)
                if info.cls.is_configured(settings):
                    candidates.append((info.cls.priority, info.name, info.cls, settings))
            if not candidates:
                raise ConfigurationError("no provider is configured (and the outbox provider is disabled)")
            _, name, cls, settings = max(candidates, key=lambda c: (c[0], c[1]))
        else:
            cls = self.registry.get("provider", name)
            settings = self._settings_of(cls)
        credentials = self.pm.hook.tierii_resolve_credentials(provider=name, settings=settings)
        return cls(settings, credentials)

    # -- the stream ---------------------------------------------------------------------------

    def prepared(self) -> Iterator[Prepared]:
        """Each record of the source, rendered or with its outcome decided."""
        records: Iterator[Contact | Rejected] = iter(self.source)
        if self.options.limit is not None:
            records = itertools.islice(records, self.options.limit)
        for record in records:
            if isinstance(record, Rejected):
                yield Prepared(
                    outcome=Outcome(record.email or "", Status.EXCLUDED, reason=record.reason),
                    origin=record.origin,
                )
                continue
            try:
                yield Prepared(message=self.composer.compose(record), origin=record.origin)
            except ComposeError as exc:
                outcome = Outcome(record.email, Status.FAILED, reason=str(exc), kind=ErrorKind.PERMANENT)
                yield Prepared(outcome=outcome, origin=record.origin)

    def preview(self, count: int) -> Iterator[Prepared]:
        return itertools.islice(self.prepared(), count)

    # -- the run ------------------------------------------------------------------------------

    def run_info(self) -> RunInfo:
        return RunInfo(
            campaign=self.campaign,
            source=self.options.contacts,
            template=str(self.options.template),
            providers=self.provider_names,
            dry_run=self.options.dry_run,
            started_at=datetime.now(timezone.utc),
            total=_capped(self.source.estimate_count(), self.options.limit),
        )

    def run(self) -> RunSummary:
        run = self.run_info()
        tally = _Tally(run.campaign, dry_run=run.dry_run)
        notify(self.pm, "tierii_run_started", run=run)
        log.info("run.started", campaign=run.campaign, provider=",".join(run.providers), dry_run=run.dry_run)
        started = time.monotonic()
        try:
            if self.options.dry_run:
                self._dry_run(run, tally)
            else:
                assert self.provider is not None
                with self.provider:
                    self._deliver_all(run, tally)
        except (FatalProviderError, RunStopped, ConfigurationError) as exc:
            # a source that breaks mid-stream stops the run too: some messages may be out
            tally.stopped = str(exc)
            log.error("run.stopped", campaign=run.campaign, reason=str(exc))
        except KeyboardInterrupt:
            tally.stopped = "interrupted"
            log.error("run.stopped", campaign=run.campaign, reason="interrupted")
        summary = tally.summary(time.monotonic() - started)
        notify(self.pm, "tierii_run_finished", run=run, summary=summary)
        log.info("run.finished", **_summary_fields(summary))
        return summary

    def _dry_run(self, run: RunInfo, tally: _Tally) -> None:
        for chunk in _chunks(self.prepared(), 100):
            outcomes = [p.outcome or Outcome(p.message.contact.email, Status.PENDING) for p in chunk]
            for p in chunk:
                if p.outcome is not None:
                    _log_outcome(p.outcome, p.origin)
            tally.add(outcomes)
            notify(self.pm, "tierii_batch_finished", run=run, outcomes=outcomes)

    def _deliver_all(self, run: RunInfo, tally: _Tally) -> None:
        provider = self.provider
        size = self.core.batch_size or provider.max_batch
        size = min(size, provider.max_batch)
        breaker = _CircuitBreaker(CIRCUIT_BREAKER_THRESHOLD)
        first = True
        for chunk in _chunks(self.prepared(), size):
            if not first and self.core.batch_delay:
                time.sleep(self.core.batch_delay)
            first = False
            outcomes = [p.outcome for p in chunk if p.outcome is not None]
            for p in chunk:
                if p.outcome is not None:
                    _log_outcome(p.outcome, p.origin)
            messages = [p.message for p in chunk if p.message is not None]
            if messages:
                outcomes += self._deliver(provider, messages, breaker)
            tally.add(outcomes)
            notify(self.pm, "tierii_batch_finished", run=run, outcomes=outcomes)

    def _deliver(
        self, provider: DeliveryProvider, messages: list[Message], breaker: _CircuitBreaker
    ) -> list[Outcome]:
        """Send one batch, retrying transient failures with backoff; one final outcome each."""
        final: list[Outcome] = []
        pending = messages
        for attempt in range(1, self.core.max_attempts + 1):
            outcomes = _complete(provider.name, pending, provider.send(pending))
            retry, wait = [], 0.0
            by_email = {m.contact.email: m for m in pending}
            for outcome in outcomes:
                breaker.record(outcome)
                if outcome.is_transient and attempt < self.core.max_attempts:
                    retry.append(by_email[outcome.email])
                    wait = max(wait, outcome.retry_after or 0.0)
                    continue
                if outcome.is_transient:
                    outcome = attrs.evolve(outcome, reason=f"{outcome.reason} (after {attempt} attempts)")
                _log_outcome(outcome, by_email[outcome.email].contact.origin)
                final.append(outcome)
            if not retry:
                break
            log.info("batch.retrying", count=len(retry), attempt=attempt, wait=round(wait, 3))
            time.sleep(max(wait, backoff(attempt, self.core.retry_delay)))
            pending = retry
        return final


def backoff(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter: 0..min(cap, base * 2**(attempt-1)) seconds."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _complete(provider: str, messages: Sequence[Message], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Exactly one outcome per message: a message the provider said nothing about is unknown."""
    by_email = {o.email: o for o in outcomes}
    return [
        by_email.get(m.contact.email)
        or Outcome.unknown(m, provider, "the provider returned no outcome for this message")
        for m in messages
    ]


class _CircuitBreaker:
    """Stops the run after ``threshold`` transient failures in a row: the service is down."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.in_a_row = 0

    def record(self, outcome: Outcome) -> None:
        self.in_a_row = self.in_a_row + 1 if outcome.is_transient else 0
        if self.in_a_row >= self.threshold:
            raise RunStopped(
                f"circuit breaker open: {self.in_a_row} transient failures in a row "
                f"(last: {outcome.reason}); re-run the same command when the provider is back"
            )


@define
class _Tally:
    campaign: str
    dry_run: bool = False
    counts: Counter = attrs.Factory(Counter)
    excluded_by_reason: Counter = attrs.Factory(Counter)
    failures: list[Outcome] = attrs.Factory(list)
    stopped: str | None = None

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.counts[outcome.status] += 1
            if outcome.status is Status.EXCLUDED:
                self.excluded_by_reason[_reason_key(outcome.reason)] += 1
            elif outcome.status in (Status.FAILED, Status.UNKNOWN):
                self.failures.append(outcome)

    def summary(self, duration: float) -> RunSummary:
        return RunSummary(
            campaign=self.campaign,
            sent=self.counts[Status.SENT],
            rendered=self.counts[Status.PENDING],
            failed=self.counts[Status.FAILED],
            excluded=self.counts[Status.EXCLUDED],
            unknown=self.counts[Status.UNKNOWN],
            duration=duration,
            dry_run=self.dry_run,
            stopped=self.stopped,
            excluded_by_reason=dict(self.excluded_by_reason),
            failures=tuple(self.failures),
        )


def _reason_key(reason: str | None) -> str:
    """Group exclusion reasons: 'invalid email address ...' -> 'invalid email address'."""
    text = reason or "unknown"
    for key in ("invalid email address", "repeated address", "not valid UTF-8", "fields where the header"):
        if key in text:
            return key
    return text.split(":", 1)[0]


def _log_outcome(outcome: Outcome, origin: str) -> None:
    if outcome.status is Status.EXCLUDED:
        log.warning("contact.excluded", origin=origin, email=outcome.email or None, reason=outcome.reason)
    elif outcome.status is Status.FAILED:
        log.warning(
            "message.failed",
            origin=origin,
            email=outcome.email,
            kind=outcome.kind.value if outcome.kind else None,
            reason=outcome.reason,
        )
    elif outcome.status is Status.UNKNOWN:
        log.warning("message.unknown", origin=origin, email=outcome.email, reason=outcome.reason)


def _summary_fields(summary: RunSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("failures")
    return data


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _capped(estimate: int | None, limit: int | None) -> int | None:
    if estimate is None:
        return limit
    return min(estimate, limit) if limit is not None else estimate
