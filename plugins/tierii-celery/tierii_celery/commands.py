"""``tierii worker``, and the ``--executor``/``--detach`` options this plugin adds to ``tierii
send`` (through the ``tierii_register_commands`` hook: the core's ``send`` is left as it is and
runs every send whose executor is ``local``)."""

from __future__ import annotations

import functools
import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from tierii_celery.settings import CelerySettings
from tierii_core.errors import ConfigurationError

EXECUTORS = ("local", "celery")


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Batches this worker sends at once (threads: provider calls wait on the network).",
)
@click.option("--queues", help="Queues to take batches from, Q[,Q...] (default: TIERII_CELERY_QUEUE).")
@click.option("--loglevel", default="WARNING", show_default=True, help="Celery's own log level.")
def worker(concurrency: int, queues: str | None, loglevel: str) -> None:
    """Send the batches of campaigns queued with `tierii send --executor celery`.

    Reads everything from its own settings: the broker (TIERII_CELERY_BROKER_URL), the state
    store (TIERII_STATE_URL), the providers' credentials. Stop it with Ctrl-C or SIGTERM: the
    batches in flight finish; a worker killed outright loses nothing (another worker takes its
    batch after TIERII_CELERY_VISIBILITY_TIMEOUT; what it had in flight becomes unknown).
    """
    from celery.signals import worker_shutdown

    from tierii_celery.app import make_app
    from tierii_celery.worker import close_all
    from tierii_core.cli.context import settings_reader
    from tierii_core.cli.context import setup as cli_setup

    cli_setup()
    settings = settings_reader().load(CelerySettings, "celery")
    app = make_app(settings)
    worker_shutdown.connect(lambda **_: close_all(), weak=False)
    name = f"tierii-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={queues or settings.queue}",
            f"--loglevel={loglevel}",
            f"--hostname={name}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def add_executor_options(cli: Any) -> None:
    """``--executor`` and ``--detach`` on ``tierii send``; ``local`` runs the core's own send."""
    send = cli.commands.get("send")
    if send is None or any(param.name == "executor" for param in send.params):
        return
    send.params.append(
        click.Option(
            ["--executor"],
            type=click.Choice(EXECUTORS),
            help="Where the messages are sent from: this process, or Celery workers (tierii worker); "
            "default: TIERII_EXECUTOR, else local.",
        )
    )
    send.params.append(
        click.Option(
            ["--detach"],
            is_flag=True,
            help="With --executor celery: return once queued; tierii status follows the campaign.",
        )
    )
    original = send.callback

    @functools.wraps(original)
    def callback(*, executor: str | None, detach: bool, **kwargs: Any) -> Any:
        if executor is None:
            executor = _default_executor()
        if executor == "local":
            if detach:
                raise click.UsageError("--detach goes with --executor celery")
            return original(**kwargs)
        if kwargs.get("dry_run") or kwargs.get("proof"):
            return original(**kwargs)  # nothing to share out: checked and proofed right here
        return send_with_executor(detach=detach, **kwargs)

    send.callback = callback


def _default_executor() -> str:
    from tierii_celery.settings import ExecutorSettings
    from tierii_core.cli.context import settings_reader

    return str(settings_reader().load(ExecutorSettings, "").executor)


def send_with_executor(*, detach: bool, **kw: Any) -> None:
    """The core's ``send``, up to the end of preparation; then the coordinator."""
    from tierii_celery.coordinator import send_with_celery
    from tierii_core.cli.context import settings_reader
    from tierii_core.cli.context import setup as cli_setup
    from tierii_core.runner import Campaign, SendOptions
    from tierii_core.settings import CoreSettings, env_name

    if kw.get("window"):
        raise click.UsageError(
            "--window is not available with --executor celery: workers start provider calls on their "
            "own, and nothing yet pauses them all when the window closes (use --at, or a local send)"
        )
    from tierii_core.cli.send import _schedule

    schedule = _schedule(kw.get("at"), kw.get("tz_name"), None, False)  # exit 2 on a bad or past --at
    pm = cli_setup(kw.get("log_json"))
    overrides = {
        env_name(None, "provider"): kw.get("provider"),
        env_name(None, "batch_size"): kw.get("batch_size"),
        env_name(None, "batch_delay"): kw.get("batch_delay"),
        env_name(None, "rate_limit"): kw.get("rate"),
        env_name(None, "concurrency"): kw.get("concurrency"),
        env_name(None, "transactional"): kw.get("transactional"),
        env_name(None, "rules"): kw.get("rules"),
        env_name("outbox", "dir"): kw.get("outbox"),
    }
    report: Path | None = kw.get("report")
    if report is not None:
        _check_writable(report)
    reader = settings_reader(overrides)
    core = reader.load(CoreSettings)
    reader.load(CelerySettings, "celery")  # a bad TIERII_CELERY_* stops here (exit 2)
    from tierii_celery.app import broker_url

    broker_url(reader.load(CelerySettings, "celery"))
    options = SendOptions(
        kw["contacts"],
        kw["template"],
        kw.get("html"),
        kw.get("subject"),
        kw.get("sender"),
        kw.get("campaign"),
        False,
        kw.get("limit"),
        kw.get("retry_failed", False),
        kw.get("retry_unknown", False),
        tuple(kw.get("where") or ()),
    )
    run = Campaign(pm, reader, options, core)
    run.prepare()
    click.echo(
        f"campaign {run.campaign_id}: provider {','.join(run.provider_names)} (celery workers)", err=True
    )
    if schedule is not None and not _wait_for_start(run, schedule):
        click.echo("cancelled before the scheduled start: nothing was queued", err=True)
        sys.exit(3)
    summary = send_with_celery(run, overrides, detach=detach)
    if summary is None:
        click.echo(f"queued; follow it with: tierii status {run.campaign_id}", err=True)
        sys.exit(0)
    if report is not None:
        import json

        try:
            report.write_text(json.dumps(summary.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: --report {report}: cannot write it: {exc.strerror}", err=True)
    sys.exit(int(summary.exit_code))


def _check_writable(path: Path) -> None:
    if not path.parent.is_dir():
        raise ConfigurationError(f"--report {path}: the directory {path.parent} does not exist")
    if path.is_dir() or not os.access(path if path.exists() else path.parent, os.W_OK):
        raise ConfigurationError(f"--report {path}: not a writable file")


def _wait_for_start(run: Any, schedule: Any) -> bool:
    """``--at``: the core's wait (its countdown, on the run's clock) before anything is queued;
    False if Ctrl-C cancelled it. Prepared and checked before: a mistake shows now, not then."""
    import threading

    from tierii_core.scheduling import Timetable

    stop = threading.Event()
    click.echo(f"schedule: starts at {schedule.at:%Y-%m-%d %H:%M:%S %Z} (Ctrl-C cancels)", err=True)
    try:
        return Timetable(schedule, run.clock, run.campaign_id).wait_for_start(stop)
    except KeyboardInterrupt:
        return False
