"""The Celery application both sides use: the coordinator to queue batches, the workers to run
them. Built from ``TIERII_CELERY_*``; imported only by the commands that need it, so ``tierii
--help`` never loads Celery.

Tasks are acknowledged late (after the batch is recorded) and are idempotent (the journal's
claim stops a second send), so a worker killed mid-batch loses nothing: kombu's Redis transport
hands its unacknowledged task to another worker after ``visibility_timeout``, found by a sweep
every ``restore_interval`` seconds. No task is given an ETA or countdown (waits for the rate
limits happen inside the task), so none can outlast the visibility timeout by waiting in a queue.
"""

from __future__ import annotations

from typing import Any

from tierii_celery.settings import CelerySettings
from tierii_core.errors import ConfigurationError

TASK = "tierii.send_batch"


def broker_url(settings: CelerySettings) -> str:
    url = settings.broker_url.reveal()
    if not url:
        raise ConfigurationError(
            "TIERII_CELERY_BROKER_URL is not set: the Redis the workers share, redis://:password@host:6379/0"
        )
    return url


def make_app(settings: CelerySettings) -> Any:
    from celery import Celery

    app = Celery("tierii", broker=broker_url(settings), set_as_current=False)
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restarting stalls the workers, never stops them
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )

    @app.task(name=TASK, acks_late=True, ignore_result=True)
    def send_batch(campaign: str, contacts: list[dict[str, Any]]) -> None:
        from tierii_celery.worker import run_batch

        run_batch(campaign, contacts)

    return app
