"""Log events, set up once by the CLI: readable on a terminal, JSON lines otherwise.

Modules get their logger with :func:`get_logger` (``log.info("area.event", key=value)``, the
structlog API). Every command writes its events through a small renderer of our own, not
through structlog: importing structlog costs ~80 ms (its processors pull in rich's pretty
printer and asyncio), about a tenth of a 3,000-recipient send. The output is what structlog
printed with our configuration: the same JSON keys (the event's fields, ``event``, ``level``,
``timestamp``), the same console lines.

structlog stays the engine wherever it is already imported when logging is set up or an
event is logged (tests capturing events with ``structlog.testing.capture_logs``, a plugin
that logs through structlog itself): it is then configured as before and the events go
through it, so that nothing a test or a plugin sees changes.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import Any

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
    "msg": logging.INFO,
}


class _Setup:
    """What :func:`configure_logging` chose; ``None`` until it is called."""

    json: bool | None = None
    level: int = logging.INFO
    structlog_configured = False


_setup = _Setup()


class _Logger:
    """A structlog-style logger: our renderer once logging is set up and structlog is not
    imported; structlog's logger otherwise (imported on first use, as before)."""

    __slots__ = ("_context", "_logger")

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        self._logger: Any = None
        self._context = context or {}

    def bind(self, **values: Any) -> _Logger:
        return _Logger({**self._context, **values})

    def new(self, **values: Any) -> _Logger:
        return _Logger(values)

    def __getattr__(self, name: str) -> Any:
        if name not in _LEVELS:
            return getattr(self._structlog(), name)
        return lambda event=None, *args, **values: self._log(name, event, args, values)

    def _structlog(self) -> Any:
        if self._logger is None:
            import structlog

            _configure_structlog_if_chosen()
            self._logger = structlog.get_logger(**self._context)  # a lazy proxy: follows reconfiguration
        return self._logger

    def _log(self, method: str, event: Any, args: tuple[Any, ...], values: dict[str, Any]) -> None:
        if _setup.json is None or "structlog" in sys.modules:
            getattr(self._structlog(), method)(event, *args, **values)
            return
        level = _LEVELS[method]
        if level < _setup.level:
            return
        if args and isinstance(event, str):
            event = event % args
        fields = {**self._context, **values}
        exc_info = fields.pop("exc_info", method == "exception")
        _write(_render(event, method, fields, exc_info, as_json=_setup.json))


def get_logger() -> Any:
    """A structlog-style logger (``log.info("area.event", key=value)``), cheap to import."""
    return _Logger()


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Events go to stderr; JSON when asked or when stderr is not a terminal."""
    if json is None:
        json = not sys.stderr.isatty()
    _setup.json, _setup.level, _setup.structlog_configured = json, level, False
    _configure_structlog_if_chosen()


def _configure_structlog_if_chosen() -> None:
    """Configure structlog as the renderer would write, if it is imported (see the module)."""
    if _setup.json is None or _setup.structlog_configured or "structlog" not in sys.modules:
        return
    import structlog

    json = _setup.json
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_setup.level),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        cache_logger_on_first_use=False,
    )
    _setup.structlog_configured = True


def _render(event: Any, method: str, fields: dict[str, Any], exc_info: Any, *, as_json: bool) -> str:
    level = "error" if method == "exception" else ("warning" if method == "warn" else method)
    level = "info" if level == "msg" else level
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    formatted = _exception(exc_info)
    if as_json:
        import json

        record = {**fields, "event": event, "level": level, "timestamp": timestamp}
        if formatted:
            record["exception"] = formatted
        return json.dumps(record, default=repr) + "\n"
    pairs = " ".join(
        f"{key}={value if isinstance(value, str) else repr(value)}" for key, value in fields.items()
    )
    line = f"{timestamp} [{level:<9}] {event!s:<30} {pairs}".rstrip() + "\n"
    return line + (formatted + "\n" if formatted else "")


def _exception(exc_info: Any) -> str:
    """The traceback ``exc_info`` asks for (True: the one being handled), as text."""
    if not exc_info:
        return ""
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    if exc_info[0] is None:
        return ""
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


def _write(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time (rich and test runners replace it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
