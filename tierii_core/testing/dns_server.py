"""An authoritative DNS server on 127.0.0.1 serving zones a test writes: NSD, from Debian.

NSD is a real authoritative server (NLnet Labs), so tests see what a receiver's resolver sees
(several TXT strings for a long key, NXDOMAIN against an empty answer, UDP then TCP). Each
server gets its own directory, configuration and free port; it runs in the foreground
(``nsd -d``) as a child of the test process and is stopped with it.

Point TierII at it with ``TIERII_DNS_SERVERS=127.0.0.1:<port>`` (:attr:`NsdServer.address`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

NSD = "/usr/sbin/nsd"
#: how long :meth:`NsdServer.start` waits for the first answer: a bound on a hang, never a pause
START_TIMEOUT = 30.0


def nsd_available() -> bool:
    return Path(NSD).exists()


def require_nsd() -> None:
    """Skip the calling test when NSD is missing, or fail when TIERII_REQUIRE_NSD=1 (CI)."""
    import pytest

    if nsd_available():
        return
    message = (
        f"{NSD} is missing (apt-get install nsd; the daemon is never started); "
        "set TIERII_REQUIRE_NSD=1 to make its absence a failure"
    )
    if os.environ.get("TIERII_REQUIRE_NSD") == "1":
        pytest.fail(message)
    pytest.skip(message)


def txt(value: str) -> str:
    """A TXT record's data in zone-file syntax: quoted strings of at most 255 octets each."""
    data = value.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [data[i : i + 250] for i in range(0, len(data), 250)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def zone_text(origin: str, records: Sequence[tuple[str, str, str]]) -> str:
    """A zone file: SOA and NS, then ``(name, type, data)`` records; name ``@`` is the origin,
    a relative name is under it. TXT data is given unquoted (see :func:`txt`)."""
    lines = [
        f"$ORIGIN {origin.rstrip('.')}.",
        "$TTL 60",
        "@ IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60",
        "@ IN NS ns.invalid.",
    ]
    for name, rdtype, data in records:
        value = txt(data) if rdtype.upper() == "TXT" else data
        lines.append(f"{name} IN {rdtype.upper()} {value}")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NsdServer:
    """NSD serving ``zones`` (origin -> records, as :func:`zone_text` takes them)."""

    def __init__(self, zones: Mapping[str, Sequence[tuple[str, str, str]]]) -> None:
        self.zones = dict(zones)
        self.port = 0
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the form TIERII_DNS_SERVERS takes."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> NsdServer:
        self._dir = Path(tempfile.mkdtemp(prefix="tierii-nsd-"))
        for attempt in range(5):  # another process may take the free port before NSD binds it
            self.port = _free_port()
            self._write_config()
            self._process = subprocess.Popen(
                [NSD, "-d", "-c", str(self._dir / "nsd.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_until_answering():
                return self
            self._stop_process()
            if attempt == 4:
                raise RuntimeError(f"nsd did not start: {self._log()}")
        return self  # pragma: no cover

    def _write_config(self) -> None:
        assert self._dir is not None
        directory = self._dir
        zone_blocks = []
        for number, (origin, records) in enumerate(self.zones.items()):
            filename = f"zone{number}.zone"
            (directory / filename).write_text(zone_text(origin, records), encoding="utf-8")
            zone_blocks.append(f"zone:\n  name: {origin.rstrip('.')}\n  zonefile: {filename}\n")
        (directory / "nsd.conf").write_text(
            "server:\n"
            f"  ip-address: 127.0.0.1@{self.port}\n"
            f"  port: {self.port}\n"
            '  username: ""\n'
            '  chroot: ""\n'
            f'  zonesdir: "{directory}"\n'
            f'  zonelistfile: "{directory}/zone.list"\n'
            '  database: ""\n'
            f'  pidfile: "{directory}/nsd.pid"\n'
            f'  xfrdfile: "{directory}/xfrd.state"\n'
            f'  xfrdir: "{directory}"\n'
            f'  logfile: "{directory}/nsd.log"\n'
            "  server-count: 1\n"
            "  verbosity: 1\n"
            "  do-ip6: no\n"
            "  rrl-ratelimit: 0\n"
            "remote-control:\n"
            "  control-enable: no\n" + "".join(zone_blocks),
            encoding="utf-8",
        )

    def _wait_until_answering(self) -> bool:
        """Ask for the first zone's SOA until NSD answers (True) or exits (False)."""
        import dns.exception
        import dns.message
        import dns.query

        assert self._process is not None
        origin = next(iter(self.zones), "invalid").rstrip(".") + "."
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            query = dns.message.make_query(origin, "SOA")
            try:
                answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.2)
            except (dns.exception.Timeout, OSError):
                continue
            if answer.answer:
                return True
            self._stop_process()
            raise RuntimeError(f"nsd does not serve {origin}: {self._log()}")
        return False

    def _log(self) -> str:
        log = self._dir / "nsd.log" if self._dir else None
        return log.read_text(errors="replace").strip()[:2000] if log and log.exists() else ""

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stderr is not None:
            process.stderr.close()

    def stop(self) -> None:
        self._stop_process()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> NsdServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
