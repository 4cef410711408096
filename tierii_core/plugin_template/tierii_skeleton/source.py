"""The ``skeleton`` contact source: one JSON object per line, streamed, each address validated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attrs import field, frozen

from tierii_core.components import ContactSource
from tierii_core.contacts import UNREADABLE
from tierii_core.errors import SourceError
from tierii_core.models import Rejected, SourceRecord


@frozen
class SkeletonSettings:
    # filled from TIERII_SKELETON_ENCODING; "help" is shown by `tierii check` and the docs
    encoding: str = field(default="utf-8", metadata={"help": "Text encoding of the files."})


class SkeletonSource(ContactSource):
    """Contacts from JSON Lines files: one object per line, with an "email" key."""

    name = "skeleton"  # the configuration key: TIERII_SKELETON_*
    patterns = ("*.jsonl",)  # the locations this source claims
    Settings = SkeletonSettings

    def __init__(self, location: str, settings: SkeletonSettings) -> None:
        super().__init__(location, settings)
        self.path = Path(location)

    def validate(self) -> None:
        """Called before anything is sent: fail early (exit 2) if the file cannot be read."""
        with self._open():
            pass

    def _open(self) -> Any:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise SourceError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot open: {exc.strerror}") from None

    def __iter__(self) -> Iterator[SourceRecord | Rejected]:
        # a generator: one line at a time, so memory stays flat whatever the file's size
        with self._open() as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    yield self._record(line, f"{self.path}:{number}")

    def _record(self, line: bytes, origin: str) -> SourceRecord | Rejected:
        # a line that cannot be read is Rejected: its code says the kind (status and reports group
        # by it), its text says what exactly
        try:
            record = json.loads(line.decode(self.settings.encoding))
        except UnicodeDecodeError as exc:
            return Rejected(
                origin, f"not valid {self.settings.encoding} (byte {exc.start + 1})", code=UNREADABLE
            )
        except json.JSONDecodeError as exc:
            return Rejected(origin, f"not JSON: {exc.msg} at column {exc.colno}", code=UNREADABLE)
        if not isinstance(record, dict):
            return Rejected(origin, "not a JSON object", code=UNREADABLE)
        fields = {str(k): v if v is None or isinstance(v, str) else json.dumps(v) for k, v in record.items()}
        # the core finds the email field, checks and normalises the address and sets repeated
        # addresses aside, the same way for every source
        return SourceRecord(fields, origin)
