"""Reports from a Maildir (what Postfix's or Dovecot's local delivery writes).

Read straight from ``new/`` and ``cur/`` (the layout is the standard; mailbox.Maildir would
hide the file names we need for an atomic move). A processed report is renamed into the
Maildir++ sub-folder ``.<processed_folder>/cur/`` (one rename: atomic), or, without a folder,
marked seen in place (``:2,S``). Anything else is left exactly where it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from tierii_core.errors import ConfigurationError
from tierii_feedback.processor import Handled, Processor

_SUBDIRS = ("tmp", "new", "cur")


def check_maildir(path: Path) -> None:
    missing = [d for d in ("new", "cur") if not (path / d).is_dir()]
    if missing:
        raise ConfigurationError(f"--maildir {path}: not a Maildir (no {' or '.join(missing)}/ inside)")


def _messages(path: Path) -> Iterator[Path]:
    for sub in ("new", "cur"):
        for entry in sorted(os.scandir(path / sub), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                yield Path(entry.path)


def _folder(path: Path, name: str) -> Path:
    """The Maildir++ sub-folder ``.name`` (created, with its ``maildirfolder`` marker)."""
    folder = path / f".{name}"
    for sub in _SUBDIRS:
        (folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / "maildirfolder").touch(exist_ok=True)
    return folder


def _seen_name(name: str) -> str:
    base, sep, info = name.partition(":2,")
    flags = set(info) if sep else set()
    return f"{base}:2,{''.join(sorted(flags | {'S'}))}"


def process_maildir(
    path: Path, processor: Processor, processed_folder: str, on_message: Callable[[Handled], None]
) -> None:
    check_maildir(path)
    target = _folder(path, processed_folder) if processed_folder else None
    for message in _messages(path):
        try:
            raw = message.read_bytes()
        except FileNotFoundError:  # another reader moved it meanwhile
            continue
        handled = processor.handle(raw, str(message))
        if handled.set_aside:
            _set_aside(message, target)
        on_message(handled)


def _set_aside(message: Path, target: Path | None) -> None:
    name = _seen_name(message.name)
    destination = (target / "cur" / name) if target is not None else message.parent.parent / "cur" / name
    if destination != message:
        os.rename(message, destination)
