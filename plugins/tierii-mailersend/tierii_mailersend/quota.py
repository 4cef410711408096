"""The daily request quota, as MailerSend reports it in ``x-apiquota-*`` headers and /v1/api-quota.

When the API has said that no request is left today, the next send stops the run (exit 3,
safe to re-run after the reset) instead of spending attempts on 429s until midnight UTC.
A negative figure (``x-apiquota-remaining: -1``, in every response MailerSend recorded) means
that no daily quota applies to the account: it is never read as "used up".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tierii_core.errors import FatalProviderError


class DailyQuota:
    """What is left of today's quota; thread-safe, updated from every answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.quota: int | None = None  # None: unknown, or no daily quota
        self.remaining: int | None = None
        self.reset: str | None = None
        self.unlimited = False  # MailerSend said no daily quota applies (-1)

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining = _int(headers.get("x-apiquota-remaining"))
        if remaining is None:
            return
        with self._lock:
            self.unlimited = remaining < 0
            self.remaining = None if self.unlimited else remaining
            self.reset = headers.get("x-apiquota-reset") or self.reset

    def observe_quota(self, body: Any) -> None:
        """The body of GET /v1/api-quota: ``{"quota": 1000, "remaining": 752, "reset": "..."}``."""
        if not isinstance(body, Mapping):
            return
        quota, remaining = _int(body.get("quota")), _int(body.get("remaining"))
        with self._lock:
            self.unlimited = (quota is not None and quota < 0) or (remaining is not None and remaining < 0)
            self.quota = None if self.unlimited else quota
            self.remaining = None if self.unlimited else remaining
            self.reset = str(body.get("reset") or "") or None

    @property
    def left_today(self) -> bool:
        """Whether a request may still be made today (no quota, unknown, or some left)."""
        with self._lock:
            return self.remaining is None or self.remaining > 0

    def require(self) -> None:
        """Raise :class:`FatalProviderError` if the API said no request is left today."""
        with self._lock:
            if self.remaining is not None and self.remaining <= 0:
                reset = self.reset or "00:00 UTC"
                raise FatalProviderError(
                    f"MailerSend's daily API quota is used up; it resets at {reset}: re-run then"
                )

    def summary(self) -> str:
        with self._lock:
            if self.unlimited:
                return "no daily request quota applies (MailerSend reports -1)"
            quota = f"{self.quota} requests a day, " if self.quota is not None else ""
            remaining = f"{self.remaining} left" if self.remaining is not None else "remaining unknown"
            reset = f", resets at {self.reset}" if self.reset else ""
        return f"{quota}{remaining}{reset}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
