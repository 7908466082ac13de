"""A real Janus in a private network namespace, for tests.

Janus never offers loopback candidates, so it runs in its own namespace, reached over a veth
pair: the test process (and its aiortc peers, restricted to the veth address) on HOST_IP,
Janus on JANUS_IP with `--ice-enforce-list` on its end. Janus is started from deploy/janus
(its own ports, not the package's service) and exactly that process is stopped.
Needs root (CI runs as root) and the Debian package `janus` (scripts/setup.sh).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "janus"
HOST_IP = "10.77.0.1"
JANUS_IP = "10.77.0.2"
API_SECRET = "test-api-secret"


def _ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", *args] if namespace is None else ["ip", "netns", "exec", namespace,
                                                       "ip", *args]
    subprocess.run(command, check=True, capture_output=True)


@dataclass
class Janus:
    namespace: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{JANUS_IP}:8088/janus"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "janus", "-F", str(CONFIG),
             "-C", str(CONFIG / "janus.jcfg"), f"--apisecret={API_SECRET}",
             f"--ice-enforce-list={self.namespace}-j", "-L", str(self.log), "--disable-colors"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/info", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("janus did not answer within 15 s")

    def stop(self) -> None:
        """Stop exactly the process this harness started (its process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def offering_only(address: str) -> Iterator[None]:
    """This process's aiortc peers offer only `address` (their veth end) while it lasts."""
    from bot.rtc.ice import restrict_host_addresses

    restrict_host_addresses([address])
    try:
        yield
    finally:
        restrict_host_addresses(None)


def _remove_orphans(prefix: str) -> None:
    """Namespaces of this prefix left by a test run that was killed (its process is gone)
    hold the same addresses and would take this run's traffic: remove them."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(prefix):]
        if name.startswith(prefix) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["ip", "link", "del", f"{name}-h"], capture_output=True)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextlib.contextmanager
def private_network(prefix: str, host_ip: str, namespace_ip: str) -> Iterator[str]:
    """A network namespace joined to this one by a veth pair: yields its name. The host end
    gets host_ip/24, the namespace end (named NAMESPACE-j) namespace_ip/24."""
    if os.geteuid() != 0:
        raise RuntimeError("these tests need root (network namespaces); CI runs as root")
    namespace = f"{prefix}{os.getpid() % 100000}"
    host_end = f"{namespace}-h"
    _remove_orphans(prefix)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
    subprocess.run(["ip", "link", "del", host_end], capture_output=True)
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", f"{namespace}-j")
        _ip("link", "set", f"{namespace}-j", "netns", namespace)
        _ip("addr", "add", f"{host_ip}/24", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("addr", "add", f"{namespace_ip}/24", "dev", f"{namespace}-j", namespace=namespace)
        _ip("link", "set", f"{namespace}-j", "up", namespace=namespace)
        _ip("link", "set", "lo", "up", namespace=namespace)
        yield namespace
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


@contextlib.contextmanager
def janus_namespace(log_dir: Path) -> Iterator[Janus]:
    if shutil.which("janus") is None:
        raise RuntimeError("janus is not installed: run scripts/setup.sh")
    with private_network("ipj", HOST_IP, JANUS_IP) as namespace:
        janus = Janus(namespace, log_dir / "janus.log")
        janus.start()
        try:
            yield janus
        finally:
            janus.stop()
