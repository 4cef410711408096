"""What a campaign was, beside the journal's who-got-what: its templates' content hashes, the
rules checked (with the versions of the packs that provide them), the providers, the segment,
and who approved it.

Kept in the state database (``TIERII_STATE_DIR/journal.sqlite3``, :mod:`tierii_core.state`,
which creates them) in tables of its own: the journal's tables are not touched.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

from tierii_core.errors import ConfigurationError
from tierii_core.state import FILENAME, Where, open_state


@frozen
class TemplateFile:
    path: str
    sha256: str


@frozen
class Identity:
    """What the campaign's last real run sent with."""

    campaign: str
    content_hash: str  # over every template file's content: what an approval is bound to
    templates: tuple[TemplateFile, ...]
    rules: tuple[tuple[str, str], ...]  # (rule name, version of the distribution providing it)
    providers: tuple[str, ...]
    segment: tuple[str, ...]  # the --where expressions
    updated_at: float


@frozen
class Approval:
    campaign: str
    content_hash: str
    approved_by: str
    approved_at: float


def template_files(paths: Sequence[Path | None]) -> tuple[TemplateFile, ...]:
    """The template files (text, then HTML) with the SHA-256 of their content."""
    found = []
    for path in paths:
        if path is None:
            continue
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigurationError(f"template {path}: cannot read it: {exc.strerror}") from None
        found.append(TemplateFile(str(path), digest))
    return tuple(found)


def content_hash(templates: Sequence[TemplateFile]) -> str:
    """One hash for the campaign's content: editing any template changes it (and voids approvals)."""
    return hashlib.sha256("\0".join(t.sha256 for t in templates).encode()).hexdigest()


class CampaignStore:
    """Identities and approvals of campaigns, in the state store (SQLite or PostgreSQL)."""

    def __init__(self, where: Where, *, read_only: bool = False) -> None:
        self.read_only = read_only
        if read_only and isinstance(where, Path) and not (where / FILENAME).exists():
            raise ConfigurationError(f"no journal in {where} (no campaign has run there yet)")
        self.state = open_state(where, read_only=read_only)
        self.path = self.state.where
        self._db = self.state.connection

    def save_identity(self, identity: Identity) -> None:
        with self.state.transaction():
            self._db.execute(
                "INSERT INTO campaign_identity VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(campaign) "
                "DO UPDATE SET content_hash = excluded.content_hash, templates = excluded.templates, "
                "rules = excluded.rules, providers = excluded.providers, segment = excluded.segment, "
                "updated_at = excluded.updated_at",
                (
                    identity.campaign,
                    identity.content_hash,
                    json.dumps([[t.path, t.sha256] for t in identity.templates]),
                    json.dumps([list(r) for r in identity.rules]),
                    json.dumps(list(identity.providers)),
                    json.dumps(list(identity.segment)),
                    identity.updated_at,
                ),
            )

    def identity(self, campaign: str) -> Identity | None:
        row = self._db.execute("SELECT * FROM campaign_identity WHERE campaign = ?", (campaign,)).fetchone()
        if row is None:
            return None
        return Identity(
            row[0],
            row[1],
            tuple(TemplateFile(p, h) for p, h in json.loads(row[2])),
            tuple((n, v) for n, v in json.loads(row[3])),
            tuple(json.loads(row[4])),
            tuple(json.loads(row[5])),
            row[6],
        )

    def approve(self, campaign: str, content_hash: str, by: str) -> Approval:
        approval = Approval(campaign, content_hash, by, time.time())
        with self.state.transaction():
            self._db.execute(
                "INSERT INTO campaign_approvals VALUES (?, ?, ?, ?) ON CONFLICT(campaign, content_hash) "
                "DO UPDATE SET approved_by = excluded.approved_by, approved_at = excluded.approved_at",
                (campaign, content_hash, by, approval.approved_at),
            )
        return approval

    def approval(self, campaign: str, content_hash: str) -> Approval | None:
        """The sign-off of exactly this content, or None (an edit since voids an approval)."""
        row = self._db.execute(
            "SELECT * FROM campaign_approvals WHERE campaign = ? AND content_hash = ?",
            (campaign, content_hash),
        ).fetchone()
        return Approval(*row) if row else None

    def journal_campaign(self, campaign: str) -> tuple[str, str, float, float] | None:
        """The journal's line for the campaign: source, template, first and last run times."""
        row = self._db.execute(
            "SELECT source, template, created_at, last_run_at FROM campaigns WHERE id = ?", (campaign,)
        ).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def close(self) -> None:
        self.state.close()
