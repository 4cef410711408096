"""Every test runs with no TIERII_* variable from the machine, in an empty working directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tierii_cannabis.plugin import pack_rules
from tierii_cannabis.rules import PackRule
from tierii_cannabis.stores import StoreBook, single_store
from tierii_core.models import Address, Contact, Message
from tierii_core.settings import CoreSettings

#: the day the unit tests run on: a common year, so 29 February birthdays fall on 1 March
TODAY = date(2025, 6, 15)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("TIERII_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray ./.env


@pytest.fixture
def today() -> date:
    return TODAY


def shipped(name: str) -> type[PackRule]:
    return next(r for r in pack_rules() if r.name == name)


@pytest.fixture
def rule_class() -> Callable[[str], type[PackRule]]:
    """``rule_class("cannabis-ca")``: the rule class of a shipped pack."""
    return shipped


@pytest.fixture
def make_rule() -> Callable[..., PackRule]:
    """``make_rule("cannabis-ca", license_number="C10-1", license_type="medical", transactional=False,
    today=TODAY)``: a single store with that licence, or ``book=`` a chain's stores."""

    def make(
        name: str,
        *,
        today: date = TODAY,
        license_number: str = "",
        license_type: str = "retail",
        book: StoreBook | None = None,
        **core: Any,
    ) -> PackRule:
        cls = shipped(name)
        book = book or single_store(license_number, license_type, "test")
        return cls(cls.Settings(), CoreSettings(**core), today=today, book=book)

    return make


@pytest.fixture
def make_message() -> Callable[..., Message]:
    """``make_message(text=..., html=..., subject=..., **contact_fields)``: a rendered message."""

    def make(text: str = "Hello.", html: str | None = None, subject: str = "News", **fields: Any) -> Message:
        email = "ann@example.com"
        return Message(
            contact=Contact(email, {"email": email, **fields}, "test:2"),
            sender=Address("shop@example.com", "Green Leaf"),
            to=Address(email),
            subject=subject,
            text=text,
            html=html,
            message_id="<1@example.com>",
            date=datetime(2025, 6, 15, tzinfo=timezone.utc),
        )

    return make
