"""The campaign loop: stream -> journal says done? skip -> render -> batch -> deliver -> record -> notify.

Everything that can be wrong with the configuration is found in :meth:`Campaign.prepare`,
before the first message leaves. After that, a recipient's problem is an :class:`Outcome`
and the run goes on; only a stop (every provider failed fatally, the circuit breaker opened,
Ctrl-C or SIGTERM, the journal cannot be written) ends it early, with exit 3, safe to re-run.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
from attrs import define, frozen

from tierii_core.components import ComplianceRule, ContactSource, DeliveryProvider
from tierii_core.compose import ComposeError, Composer, parse_address
from tierii_core.delivery import BatchStopped, CircuitBreaker, Delivery, ProviderSlot
from tierii_core.errors import ConfigurationError, FatalProviderError, RunStopped
from tierii_core.journal import Journal, SqliteJournal, check_state_dir, key_of, reason_group
from tierii_core.logs import get_logger
from tierii_core.models import Contact, ErrorKind, Message, Outcome, Rejected, RunInfo, RunSummary, Status
from tierii_core.observe import notify
from tierii_core.plugins import PluginManager, Registry
from tierii_core.ratelimit import TokenBucket, parse_rate
from tierii_core.sender_auth import prepare_providers
from tierii_core.settings import CoreSettings, SettingsReader
from tierii_core.suppression import SuppressionList
from tierii_core.unsubscribe import UnsubscribeLinks

log = get_logger()

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
    retry_failed: bool = False
    retry_unknown: bool = False


@frozen
class Prepared:
    """A message to deliver, or the outcome already decided for a record (excluded, failed)."""

    message: Message | None = None
    outcome: Outcome | None = None
    origin: str = ""


@frozen
class Chunk:
    """One batch's worth of records: messages to deliver and outcomes decided without a provider."""

    messages: list[Message]
    decided: list[tuple[str, Outcome]]  # (origin, outcome)
    skipped: int = 0
    unknown: list[Outcome] = attrs.Factory(list)


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
        self.journal: Journal | None = None

    # -- preparation: every configuration error surfaces here -------------------------------

    def prepare(self, *, need_provider: bool = True) -> None:
        source_cls = self.registry.claiming("source", self.options.contacts)
        self.source: ContactSource = source_cls(self.options.contacts, self._settings_of(source_cls))
        self.source.validate()
        engine_cls = self.registry.claiming("engine", str(self.options.template))
        engine = engine_cls(self._settings_of(engine_cls))
        links = None
        if self.core.unsubscribe_url:
            links = UnsubscribeLinks(
                self.core.unsubscribe_url, self.core.unsubscribe_secret, self.core.unsubscribe_mailto
            )
        self.composer = Composer(
            self.options.template,
            engine,
            html_path=self.options.html,
            subject=self.options.subject,
            sender=self.options.sender,
            default_sender=self._default_sender(),
            campaign_vars={
                "sender_address": self.core.sender_address,
                "license_number": self.core.license_number,
            },
            links=links,
        )
        self.rules = self._select_rules()
        self.suppressions = SuppressionList(self.core.state_dir, read_only=True)
        self.messages_bucket = (
            TokenBucket.for_messages(parse_rate(self.core.rate_limit, "TIERII_RATE_LIMIT"))
            if self.core.rate_limit
            else None
        )
        self.slots: list[ProviderSlot] = []
        if need_provider:
            self.slots = [self._slot(p) for p in self._select_providers()]
            # the DKIM signer goes to the providers; rules may refuse the chain (sender_auth.py)
            prepare_providers([slot.provider for slot in self.slots], self.reader, self.rules)
        self.provider_names = tuple(slot.name for slot in self.slots)
        self.campaign = campaign_id(self.options, self.provider_names)
        self._check_opening_messages()
        if not self.options.dry_run and need_provider:
            self.journal = SqliteJournal(check_state_dir(self.core.state_dir))
        elif (self.core.state_dir / "journal.sqlite3").exists():
            self.journal = SqliteJournal(self.core.state_dir, read_only=True)

    def _select_rules(self) -> list[ComplianceRule]:
        """Always-on rules (marketing ones unless transactional) plus the packs named in --rules."""
        wanted = {n.strip() for n in self.core.rules.split(",") if n.strip()}
        available = {info.name: info.cls for info in self.registry.components("rule")}
        unknown = wanted - set(available)
        if unknown:
            packs = sorted(name for name, cls in available.items() if cls.opt_in)
            raise ConfigurationError(
                f"TIERII_RULES / --rules: no rule named {', '.join(sorted(unknown))} "
                f"(installed packs: {', '.join(packs) or 'none; pip install tierii-cannabis'})"
            )
        rules = []
        for name, cls in available.items():
            if cls.opt_in and name not in wanted:
                continue
            if cls.marketing and self.core.transactional:
                continue
            rules.append(cls(self._settings_of(cls), self.core))
        return rules

    def _check_opening_messages(self, how_many: int = 1, look_at: int = 50) -> None:
        """Render the first messages and run the message rules on them: a template that breaks
        a rule is refused here, before anything is sent (exit 2)."""
        checked = 0
        for record in itertools.islice(iter(self.source), look_at):
            if isinstance(record, Rejected) or self._excluded(record) is not None:
                continue
            try:
                message = self.composer.compose(record)
            except ComposeError as exc:
                if exc.variable in self.composer.unset_vars:
                    raise ConfigurationError(
                        f"template {self.options.template} uses {{{{{exc.variable}}}}}, but "
                        f"TIERII_{exc.variable.upper()} is not set"
                    ) from None
                continue
            broken = self._broken_rule(message)
            if broken is not None:
                rule, reason = broken
                html = f" with {self.options.html}" if self.options.html else ""
                raise ConfigurationError(
                    f"rule {rule} refuses template {self.options.template}{html}: {reason} "
                    f"(first checked on {record.origin})"
                )
            checked += 1
            if checked >= how_many:
                return

    def _broken_rule(self, message: Message) -> tuple[str, str] | None:
        """The first message rule the message breaks, and why."""
        for rule in self.rules:
            reason = rule.check_message(message)
            if reason is not None:
                return rule.name, reason
        return None

    def _excluded(self, contact: Contact) -> str | None:
        """Why a contact must not get this campaign (a recipient rule), or None."""
        for rule in self.rules:
            reason = rule.check_contact(contact)
            if reason is not None:
                return f"{rule.name}: {reason}"
        return None

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

    def _select_providers(self) -> list[DeliveryProvider]:
        """The provider chain from TIERII_PROVIDER / --provider: names, or ``auto``."""
        names = [n.strip() for n in self.core.provider.split(",") if n.strip()] or ["auto"]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"TIERII_PROVIDER={self.core.provider!r}: a provider is named twice")
        return [self.provider(name) for name in names]

    def provider(self, name: str) -> DeliveryProvider:
        """The provider called ``name`` (or the ``auto`` choice), with its settings and credentials."""
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

    def _slot(self, provider: DeliveryProvider) -> ProviderSlot:
        limit = getattr(provider, "max_per_minute", None)
        return ProviderSlot(provider, TokenBucket.for_requests(limit) if limit else None)

    @property
    def batch_size(self) -> int:
        sizes = [self.core.batch_size or 10**9]
        sizes += [slot.provider.max_batch for slot in self.slots]
        if self.messages_bucket is not None:
            sizes.append(self.messages_bucket.burst)
        size = min(sizes)
        return size if size < 10**9 else 100

    # -- the stream ---------------------------------------------------------------------------

    def prepared(self) -> Iterator[Prepared]:
        """Each record of the source, rendered or with its outcome decided (for preview)."""
        for record in self._records():
            email = "" if isinstance(record, Rejected) else record.email
            yield self._prepare(record, suppressed=bool(email and self.suppressions.suppressed([email])))

    def _records(self) -> Iterator[Contact | Rejected]:
        records: Iterator[Contact | Rejected] = iter(self.source)
        if self.options.limit is not None:
            records = itertools.islice(records, self.options.limit)
        return records

    def _prepare(self, record: Contact | Rejected, suppressed: bool = False) -> Prepared:
        """Exclude, render and check one record; the outcome when it will not be sent."""
        if isinstance(record, Rejected):
            outcome = Outcome(record.email or "", Status.EXCLUDED, reason=record.reason)
            return Prepared(outcome=outcome, origin=record.origin)
        excluded = "suppressed" if suppressed else self._excluded(record)
        if excluded is not None:
            return Prepared(
                outcome=Outcome(record.email, Status.EXCLUDED, reason=excluded), origin=record.origin
            )
        try:
            message = self.composer.compose(record)
        except ComposeError as exc:
            outcome = Outcome(record.email, Status.FAILED, reason=str(exc), kind=ErrorKind.PERMANENT)
            return Prepared(outcome=outcome, origin=record.origin)
        broken = self._broken_rule(message)
        if broken is not None:
            outcome = Outcome(record.email, Status.FAILED, reason=": ".join(broken), kind=ErrorKind.PERMANENT)
            return Prepared(outcome=outcome, origin=record.origin)
        return Prepared(message=message, origin=record.origin)

    def preview(self, count: int) -> Iterator[Prepared]:
        return itertools.islice(self.prepared(), count)

    def chunks(self) -> Iterator[Chunk]:
        """Batches of records, minus those the journal says are done."""
        records = self._records()
        while batch := list(itertools.islice(records, self.batch_size)):
            keys = [key_of(r.email or "", r.origin) for r in batch]
            states = self.journal.states(self.campaign, keys) if self.journal else {}
            suppressed = self.suppressions.suppressed([r.email for r in batch if isinstance(r, Contact)])
            messages, decided, skipped, unknown = [], [], 0, []
            for record, key in zip(batch, keys, strict=True):
                state = states.get(key)
                if state in (Status.SENT, Status.EXCLUDED) or (
                    state is Status.FAILED and not self.options.retry_failed
                ):
                    skipped += 1
                    continue
                if state is Status.UNKNOWN and not self.options.retry_unknown:
                    unknown.append(
                        Outcome(
                            record.email or "",
                            Status.UNKNOWN,
                            reason="unknown since an earlier run (--retry-unknown resends)",
                        )
                    )
                    continue
                prepared = self._prepare(record, suppressed=record.email in suppressed)
                if prepared.message is not None:
                    messages.append(prepared.message)
                else:
                    decided.append((prepared.origin, prepared.outcome))
            yield Chunk(messages, decided, skipped, unknown)

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
        tally = _Tally(run.campaign, dry_run=run.dry_run, rules=tuple(rule.name for rule in self.rules))
        stop = threading.Event()
        with contextlib.ExitStack() as resources:
            resources.callback(self.suppressions.close)
            if self.journal is not None:
                resources.callback(self.journal.close)
            if not self.options.dry_run:
                # configuration problems found here (a provider's settings, a campaign another
                # process is sending) stop the command with exit 2: nothing has been sent
                tally.stopped = self._open_providers(resources)
                stale = self.journal.open_campaign(run.campaign, run.source, run.template, run.providers)
                if stale:
                    log.warning(
                        "run.unknown_found",
                        campaign=run.campaign,
                        count=stale,
                        reason="in flight when an earlier run stopped",
                    )
            notify(self.pm, "tierii_run_started", run=run)
            log.info(
                "run.started", campaign=run.campaign, provider=",".join(run.providers), dry_run=run.dry_run
            )
            started = time.monotonic()
            try:
                with _stop_on_signals(stop):
                    if self.options.dry_run:
                        self._dry_run(run, tally)
                    elif not tally.stopped:
                        self._send(run, tally, stop)
                if stop.is_set() and not tally.stopped:
                    tally.stopped = "interrupted: the batch in flight was finished and recorded"
            except (FatalProviderError, RunStopped, ConfigurationError) as exc:
                # a source that breaks mid-stream stops the run too: some messages may be out
                tally.stopped = str(exc)
        if tally.stopped:
            log.error("run.stopped", campaign=run.campaign, reason=tally.stopped)
        summary = tally.summary(time.monotonic() - started)
        notify(self.pm, "tierii_run_finished", run=run, summary=summary)
        log.info("run.finished", **_summary_fields(summary))
        return summary

    def _open_providers(self, resources: contextlib.ExitStack) -> str | None:
        """Open every provider of the chain; why the run cannot send at all, or None."""
        for slot in self.slots:
            try:
                resources.enter_context(slot.provider)
            except FatalProviderError as exc:
                slot.dead = str(exc)
                log.error("provider.failed", provider=slot.name, reason=str(exc))
        if all(slot.dead for slot in self.slots):
            return "; ".join(f"{s.name}: {s.dead}" for s in self.slots)
        return None

    def _dry_run(self, run: RunInfo, tally: _Tally) -> None:
        for chunk in self.chunks():
            outcomes = [Outcome(m.contact.email, Status.PENDING) for m in chunk.messages]
            self._finish_chunk(run, tally, chunk, outcomes)

    def _send(self, run: RunInfo, tally: _Tally, stop: threading.Event) -> None:
        assert self.journal is not None
        breaker = CircuitBreaker(CIRCUIT_BREAKER_THRESHOLD)
        delivery = Delivery(
            self.slots,
            campaign=run.campaign,
            journal=self.journal,
            max_attempts=self.core.max_attempts,
            retry_delay=self.core.retry_delay,
            breaker=breaker,
            stop=stop,
            messages=self.messages_bucket,
        )
        self._pump(run, tally, stop, delivery, breaker)

    def _pump(
        self, run: RunInfo, tally: _Tally, stop: threading.Event, delivery: Delivery, breaker: CircuitBreaker
    ) -> None:
        """Feed chunks to ``--concurrency`` workers, at most two chunks each in flight (flat memory)."""
        in_flight: dict[Future, Chunk] = {}
        failure: BaseException | None = None
        first = True

        def collect(done: set[Future]) -> None:
            nonlocal failure
            for future in done:
                chunk = in_flight.pop(future)
                try:
                    outcomes = future.result()
                except BatchStopped as exc:
                    outcomes, failure = exc.outcomes, exc.reason
                    stop.set()
                self._finish_chunk(run, tally, chunk, outcomes)
            try:
                breaker.check()
            except RunStopped as exc:
                failure = failure or exc
                stop.set()

        with ThreadPoolExecutor(self.core.concurrency, thread_name_prefix="tierii-send") as pool:
            for chunk in self.chunks():
                if chunk.decided:
                    self.journal.record(
                        run.campaign, [(key_of(o.email, origin), origin, o) for origin, o in chunk.decided]
                    )
                if stop.is_set():
                    break
                if not chunk.messages:
                    self._finish_chunk(run, tally, chunk, [])
                    continue
                if not first and self.core.batch_delay and stop.wait(self.core.batch_delay):
                    break
                first = False
                in_flight[pool.submit(delivery.deliver, chunk.messages)] = chunk
                while len(in_flight) >= self.core.concurrency * 2:
                    collect(wait(in_flight, return_when=FIRST_COMPLETED).done)
                if len(in_flight) < self.core.concurrency * 2:
                    done = {f for f in in_flight if f.done()}
                    if done:
                        collect(done)
            while in_flight:
                collect(wait(in_flight, return_when=FIRST_COMPLETED).done)
        if failure is not None:
            raise failure

    def _finish_chunk(self, run: RunInfo, tally: _Tally, chunk: Chunk, outcomes: Sequence[Outcome]) -> None:
        for origin, outcome in chunk.decided:
            _log_outcome(outcome, origin)
        origins = {m.contact.email: m.contact.origin for m in chunk.messages}
        for outcome in outcomes:
            _log_outcome(outcome, origins.get(outcome.email, ""))
        everything = [o for _, o in chunk.decided] + list(outcomes) + chunk.unknown
        tally.skipped += chunk.skipped
        tally.add(everything)
        notify(self.pm, "tierii_batch_finished", run=run, outcomes=everything)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: finish the batches in flight, record them, exit 3. Second: exit now.

    Exiting at once is safe: each journal transaction is atomic, and whatever was handed to
    a provider is ``sending`` in the journal, which the next run reports as unknown.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            os._exit(3)
        stop.set()
        log.warning("run.stopping", signal=signal.Signals(signum).name, hint="again to exit at once")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@define
class _Tally:
    campaign: str
    dry_run: bool = False
    counts: Counter = attrs.Factory(Counter)
    excluded_by_reason: Counter = attrs.Factory(Counter)
    failures: list[Outcome] = attrs.Factory(list)
    skipped: int = 0
    stopped: str | None = None
    rules: tuple[str, ...] = ()

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.counts[outcome.status] += 1
            if outcome.status is Status.EXCLUDED:
                self.excluded_by_reason[reason_group(outcome.reason)] += 1
            elif outcome.status in (Status.FAILED, Status.UNKNOWN):
                self.failures.append(outcome)

    def summary(self, duration: float) -> RunSummary:
        return RunSummary(
            campaign=self.campaign,
            sent=self.counts[Status.SENT],
            rendered=self.counts[Status.PENDING] if self.dry_run else 0,
            pending=0 if self.dry_run else self.counts[Status.PENDING],
            failed=self.counts[Status.FAILED],
            excluded=self.counts[Status.EXCLUDED],
            unknown=self.counts[Status.UNKNOWN],
            skipped=self.skipped,
            duration=duration,
            dry_run=self.dry_run,
            stopped=self.stopped,
            excluded_by_reason=dict(self.excluded_by_reason),
            failures=tuple(self.failures),
            rules=self.rules,
        )


def _log_outcome(outcome: Outcome, origin: str) -> None:
    fields = {"origin": origin} if origin else {}
    if outcome.status is Status.EXCLUDED:
        log.warning("contact.excluded", **fields, email=outcome.email or None, reason=outcome.reason)
    elif outcome.status is Status.FAILED:
        kind = outcome.kind.value if outcome.kind else None
        log.warning("message.failed", **fields, email=outcome.email, kind=kind, reason=outcome.reason)
    elif outcome.status is Status.UNKNOWN:
        log.warning("message.unknown", **fields, email=outcome.email, reason=outcome.reason)


def _summary_fields(summary: RunSummary) -> dict[str, Any]:
    data = summary.as_dict()
    data.pop("failures")
    return data


def _capped(estimate: int | None, limit: int | None) -> int | None:
    if estimate is None:
        return limit
    return min(estimate, limit) if limit is not None else estimate
