"""``TIERII_CELERY_*``: the broker, and the redelivery timing of kombu's Redis transport."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen
from attrs.validators import ge, gt

from tierii_core.models import Secret


def _redis_url(instance: Any, attribute: Any, value: Secret) -> None:
    text = value.reveal()
    if text and not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected redis://[:password@]host:port/db (or rediss:// for TLS)")


@frozen
class CelerySettings:
    """Where the tasks go and how soon a dead worker's task comes back (``TIERII_CELERY_*``)."""

    broker_url: Secret = field(
        default=Secret(""),
        validator=_redis_url,
        metadata={
            "help": "The Redis broker, which also keeps the shared rate limits: "
            "redis://:password@host:6379/0, or rediss://... for TLS. Required by send --executor celery "
            "and tierii worker; the password is masked wherever it is shown.",
            "form": "redis://[:password@]host:port/db",
        },
    )
    queue: str = field(
        default="tierii",
        metadata={"help": "The queue campaigns' batches go to (workers: --queues).", "form": "a name"},
    )
    visibility_timeout: float = field(
        default=600.0,
        validator=gt(0),
        metadata={
            "help": "Seconds before a task a worker took and never acknowledged (it died) is given to "
            "another worker. Longer than any batch takes (rate waits included); kombu's own default, an "
            "hour, would stall a campaign that long.",
            "form": "a number of seconds > 0",
        },
    )
    restore_interval: float = field(
        default=5.0,
        validator=gt(0),
        metadata={
            "help": "Seconds between the workers' sweeps for such tasks (kombu's unacked_restore_interval; "
            "unacked_restore_throttle is set to 1, so every sweep looks).",
            "form": "a number of seconds > 0",
        },
    )
    requeue_after: float = field(
        default=60.0,
        validator=gt(0),
        metadata={
            "help": "The coordinator queues again the recipients still waiting after this many seconds "
            "without progress (a broker that restarted and lost its queue); the claim stops doubles.",
            "form": "a number of seconds > 0",
        },
    )
    give_up_after: int = field(
        default=3,
        validator=ge(1),
        metadata={
            "help": "Re-queues in a row that change nothing before the coordinator stops (exit 3): "
            "no worker can send (none running, or their provider is down).",
            "form": "a whole number >= 1",
        },
    )
    connection_lease: float = field(
        default=30.0,
        validator=gt(0),
        metadata={
            "help": "Seconds a worker's hold on one of the shared SMTP connection slots lasts unless "
            "renewed (its heartbeat renews every third of it): a killed worker's slots go back to the "
            "others after this long. All workers together hold at most TIERII_SMTP_CONNECTIONS.",
            "form": "a number of seconds > 0",
        },
    )


def _executor(instance: Any, attribute: Any, value: str) -> None:
    if value not in ("local", "celery"):
        raise ValueError(f"{value!r} is not an executor")


@frozen
class ExecutorSettings:
    """Where ``tierii send`` sends from, when ``--executor`` is not given (``TIERII_EXECUTOR``)."""

    executor: str = field(
        default="local",
        validator=_executor,
        metadata={
            "help": "Where tierii send sends from: local (this process) or celery (tierii worker "
            "processes, through TIERII_CELERY_BROKER_URL); --executor wins over it.",
            "form": "local or celery",
        },
    )
