"""A real coturn (Debian's) in a private network namespace, started with deploy/coturn."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.janus_net import private_network

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "coturn" / "turnserver.conf"
HOST_IP = "10.78.0.1"
TURN_IP = "10.78.0.2"
SECRET = "test-turn-secret-0123456789abcdef"


@dataclass(frozen=True)
class Coturn:
    url: str
    log: Path


@contextlib.contextmanager
def coturn_namespace(log_dir: Path) -> Iterator[Coturn]:
    if shutil.which("turnserver") is None:
        raise RuntimeError("coturn is not installed: run scripts/setup.sh")
    log = log_dir / "coturn.log"
    with private_network("ipt", HOST_IP, TURN_IP) as namespace, open(log, "wb") as sink:
        # The deployed config denies private peers; the test's own peer is let through.
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "turnserver", "-c", str(CONFIG),
             "--listening-ip", TURN_IP, "--relay-ip", TURN_IP, "--static-auth-secret", SECRET,
             f"--allowed-peer-ip={HOST_IP}", "--pidfile", str(log_dir / "coturn.pid")],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 10
            while b"listener opened" not in log.read_bytes() and b"Total General" not in \
                    log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"coturn did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            time.sleep(0.3)
            yield Coturn(f"turn:{TURN_IP}:3478?transport=udp", log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
