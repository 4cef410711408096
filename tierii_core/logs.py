"""structlog setup, done once by the CLI: readable on a terminal, JSON lines otherwise.

Modules get their logger with :func:`get_logger` rather than ``structlog.get_logger()``:
importing structlog costs ~50 ms (it brings in rich), and every ``tierii`` command, even
``--help``, imports the core and every installed plugin; the logger imports it on first use.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


class _Logger:
    """structlog's logger, imported when the first event is logged."""

    __slots__ = ("_logger",)

    def __init__(self) -> None:
        self._logger: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger()
        return getattr(self._logger, name)


def get_logger() -> Any:
    """A structlog logger (``log.info("area.event", key=value)``) that imports structlog lazily."""
    return _Logger()


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Events go to stderr; JSON when asked or when stderr is not a terminal."""
    import structlog

    if json is None:
        json = not sys.stderr.isatty()
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        cache_logger_on_first_use=False,
    )


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time (rich and test runners replace it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
