"""Whose List-Unsubscribe header MailerSend's emails carry: TierII's or MailerSend's own.

MailerSend adds its own RFC 8058 List-Unsubscribe (and -Post) header to every email unless the
request sets ``list_unsubscribe``, which only the Professional and Enterprise plans may do (so
is the ``headers`` field, and it cannot override MailerSend's own headers anyway).
``TIERII_MAILERSEND_UNSUBSCRIBE`` chooses:

- ``ours``: TierII's signed one-click URL goes in ``list_unsubscribe``; a plan that refuses it
  stops the run (exit 3: nothing the plan refused was sent; set ``mailersend`` and re-run).
- ``mailersend``: no ``list_unsubscribe``; MailerSend's header goes out, the provider declares
  ``adds_list_unsubscribe`` so the one-click rule knows the header is MailerSend's, and its
  unsubscribes reach TierII's suppression list through the ``activity.unsubscribed`` webhook.
- ``auto`` (the default): ours until MailerSend refuses ``list_unsubscribe`` for the plan, then
  MailerSend's for the rest of the run. No API call tells the plan, and the refusal costs one
  request whose emails were not sent and are resent at once without the field.

Until a request carrying ``list_unsubscribe`` has been accepted, one request at a time carries
it and the other workers wait for its answer: a plan that refuses the field refuses one
request, not one per worker (which would also open the core's circuit breaker).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tierii_core.logs import get_logger

log = get_logger()

VARIABLE = "TIERII_MAILERSEND_UNSUBSCRIBE"


class UnsubscribeHeader:
    """The current choice (thread-safe: several workers send at once)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._ours = mode != "mailersend"
        self._lock = threading.Condition()
        self._confirmed = False  # a request with list_unsubscribe was accepted: the plan allows it
        self._asking = False  # a request with list_unsubscribe is out, its answer not yet in

    @contextmanager
    def deciding(self, stopping: threading.Event, wanted: bool = True) -> Iterator[bool]:
        """Whether the next request carries ``list_unsubscribe`` (``wanted``: its messages have
        TierII's link at all); while the plan's answer is unknown, only one request at a time
        does (the others wait here for its answer). The caller calls :meth:`accepted` when
        MailerSend took a request that carried it."""
        if not wanted:
            yield False
            return
        with self._lock:
            while self._ours and not self._confirmed and self._asking and not stopping.is_set():
                self._lock.wait(0.5)
            asking = self._ours and not self._confirmed
            if asking:
                self._asking = True
            ours = self._ours
        try:
            yield ours
        finally:
            if asking:
                with self._lock:
                    self._asking = False
                    self._lock.notify_all()

    def accepted(self) -> None:
        """MailerSend accepted a request carrying ``list_unsubscribe``: the plan allows it."""
        with self._lock:
            self._confirmed = True
            self._lock.notify_all()

    @property
    def ours(self) -> bool:
        """Whether requests carry TierII's ``list_unsubscribe``."""
        with self._lock:
            return self._ours

    def describe(self) -> str:
        if self.ours:
            return "TierII's one-click link, sent as list_unsubscribe (Professional and Enterprise plans)"
        return (
            "MailerSend's own one-click header; its unsubscribes reach TierII through the "
            "activity.unsubscribed webhook (tierii mailersend webhooks serve)"
        )

    def refused_by_plan(self, detail: str) -> str | None:
        """MailerSend refused ``list_unsubscribe`` for the plan: switch to MailerSend's header
        (``auto``), or return why the run must stop (``ours``)."""
        with self._lock:
            if self.mode == "ours":
                return (
                    f"MailerSend refused TierII's List-Unsubscribe for this plan ({detail}): set "
                    f"{VARIABLE}=mailersend (MailerSend's own header) or upgrade to Professional"
                )
            if self._ours:
                self._ours = False
                self._lock.notify_all()
                log.warning(
                    "mailersend.unsubscribe_header",
                    header="mailersend",
                    detail=detail,
                    advice=f"set {VARIABLE}=mailersend to skip this refusal, and run "
                    "`tierii mailersend webhooks serve` for activity.unsubscribed",
                )
        return None
