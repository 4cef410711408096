"""The daily request quota, as MailerSend reports it in ``x-apiquota-*`` headers and /v1/api-quota.

When the API has said that no request is left today, the next send stops the run (exit 3,
safe to re-run after the reset) instead of spending attempts on 429s until midnight UTC.
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
        self.quota: int | None = None
        self.remaining: int | None = None
        self.reset: str | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining = _int(headers.get("x-apiquota-remaining"))
        if remaining is None:
            return
        with self._lock:
            self.remaining = remaining
            self.reset = headers.get("x-apiquota-reset") or self.reset

    def observe_quota(self, body: Any) -> None:
        """The body of GET /v1/api-quota: ``{"quota": 1000, "remaining": 752, "reset": "..."}``."""
        if not isinstance(body, Mapping):
            return
        with self._lock:
            self.quota = _int(body.get("quota"))
            self.remaining = _int(body.get("remaining"))
            self.reset = str(body.get("reset") or "") or None

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
            quota = f"{self.quota} requests a day, " if self.quota is not None else ""
            remaining = f"{self.remaining} left" if self.remaining is not None else "remaining unknown"
            reset = f", resets at {self.reset}" if self.reset else ""
        return f"{quota}{remaining}{reset}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
