"""The outbox's Maildir: made whatever is already there, by one process or two at once."""

from __future__ import annotations

import mailbox
import os

from tierii_core.default_plugins.outbox import Outbox
from tierii_core.models import Status
from tierii_core.testing import make_message


def _send_two(directory) -> list[Status]:
    with Outbox(Outbox.Settings(dir=directory), None) as outbox:
        return [o.status for o in outbox.send([make_message("a@example.com"), make_message("b@example.com")])]


def test_an_empty_folder_the_user_made_becomes_the_maildir(tmp_path):
    (tmp_path / "outbox").mkdir()
    assert _send_two(tmp_path / "outbox") == [Status.SENT, Status.SENT]
    assert len(mailbox.Maildir(tmp_path / "outbox", create=False)) == 2


def test_folders_another_process_makes_at_the_same_moment_are_used(tmp_path, monkeypatch):
    """Two `tierii send` on one campaign open the outbox at once: each folder appears between
    one's look and its own mkdir (the other process made it)."""
    make = os.mkdir

    def the_other_process_first(path, *args, **kwargs):
        if not os.path.isdir(path):
            make(path, *args, **kwargs)
        return make(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", the_other_process_first)
    assert _send_two(tmp_path / "outbox") == [Status.SENT, Status.SENT]
    monkeypatch.undo()
    assert len(mailbox.Maildir(tmp_path / "outbox", create=False)) == 2


def test_the_maildir_is_private_to_its_user(tmp_path):
    _send_two(tmp_path / "outbox")
    for folder in ("", "tmp", "new", "cur"):
        assert (tmp_path / "outbox" / folder).stat().st_mode & 0o077 == 0
