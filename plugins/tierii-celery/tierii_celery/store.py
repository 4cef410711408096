"""The campaign as the workers build it: its templates' text and its options, kept in the state
store (never in the broker), under the campaign's name. No secret is in it: each worker reads
the provider's credentials from its own settings.

The table belongs to this plugin and is created by it (``CREATE TABLE IF NOT EXISTS``): the
core's migrations do not know about it, and a state store without the plugin never has it.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import asdict, frozen

from tierii_core.state import Where, open_state

TABLE = "celery_campaigns"


@frozen
class CampaignSpec:
    """What a worker needs besides its own settings to send a campaign's batches."""

    campaign: str
    template_name: str  # the file's name: the template engine is chosen by its pattern
    template_text: str
    html_name: str | None
    html_text: str | None
    subject: str | None
    sender: str | None
    retry_failed: bool
    retry_unknown: bool
    #: the send command's options that are settings (provider, rate, rules...): never a secret
    settings: dict[str, Any]
    source: str  # the contacts' location, credentials masked (for RunInfo on the workers)
    total: int | None = None


class CampaignSpecs:
    """Save and load :class:`CampaignSpec` in the state store (SQLite or PostgreSQL)."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self._state = open_state(where)

        def create() -> None:
            with self._state.transaction():
                self._state.connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, spec TEXT NOT NULL, "
                    "saved_at REAL NOT NULL)"
                )

        self._state.attempt(create)

    def save(self, spec: CampaignSpec, now: float) -> None:
        text = json.dumps(asdict(spec), sort_keys=True)

        def work() -> None:
            with self._state.transaction():
                self._state.connection.execute(
                    f"INSERT INTO {TABLE} (id, spec, saved_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                    "SET spec = excluded.spec, saved_at = excluded.saved_at",
                    (spec.campaign, text, now),
                )

        self._state.attempt(work)

    def load(self, campaign: str) -> CampaignSpec | None:
        row = self._state.attempt(
            lambda: self._state.connection.execute(
                f"SELECT spec FROM {TABLE} WHERE id = ?", (campaign,)
            ).fetchone()
        )
        return CampaignSpec(**json.loads(row[0])) if row else None

    def close(self) -> None:
        self._state.close()
