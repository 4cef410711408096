"""`tierii send` reads a CSV once: from a named pipe (or `<(command)`), every row is sent."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
import threading
from email.utils import parseaddr
from pathlib import Path

import pytest

from tierii_core.testing.fixtures import tierii_environment, tierii_state_dir  # noqa: F401

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")

ROWS = 3000  # several read buffers' worth: a second open would find the rows already gone


def test_a_csv_from_a_named_pipe_is_sent_whole(tierii_state_dir: Path) -> None:  # noqa: F811
    fifo = Path("contacts.csv")
    os.mkfifo(fifo)
    Path("t.mustache").write_text("Subject: Hi {{name}}\nFrom: shop@example.com\n\nHello {{name}}\n")
    rows = "".join(f"u{i}@example.com,Name {i}\n" for i in range(ROWS))
    writer = threading.Thread(target=fifo.write_text, args=("email,name\n" + rows,), daemon=True)
    writer.start()
    # a second open of the pipe would wait for a writer that is gone: the timeout fails it
    command = [sys.executable, "-m", "tierii_core.cli", "send", str(fifo), "-t", "t.mustache"]
    result = subprocess.run(
        [*command, "--transactional", "--outbox", "out"], capture_output=True, text=True, timeout=120
    )
    writer.join(timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"sent: {ROWS}\n" in result.stdout
    recipients = sorted(parseaddr(m["To"])[1] for m in mailbox.Maildir("out", create=False))
    assert recipients == sorted(f"u{i}@example.com" for i in range(ROWS))
