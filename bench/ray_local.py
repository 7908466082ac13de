"""A real local Ray cluster, for bench.cluster and the cluster tests: a head and a second
node, each a separate `ray start --block` in its own process group, so one node can be lost
(SIGKILL to its whole group, as a machine that dies) while the other goes on. Node loss is
noticed within ~1.5 s (health checks every 0.5 s, 2 failures), not Ray's default of ~30 s."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
# As bot/cluster does: no Ray call in this process may start a local Ray of its own.
os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
FAST_HEALTH = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "500",
               "RAY_health_check_timeout_ms": "500", "RAY_health_check_failure_threshold": "2",
               "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def rss_mb(self) -> float:
        """Resident memory of the node in MB: its process group (raylet, GCS...) and every
        process descended from it (Ray starts actor workers in groups of their own)."""
        parent: dict[int, int] = {}
        rss: dict[int, int] = {}
        group: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent[pid], group[pid] = int(fields[1]), int(fields[2])
                rss[pid] = next((int(line.split()[1]) for line in
                                 (entry / "status").read_text().splitlines()
                                 if line.startswith("VmRSS:")), 0)
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile

        def belongs(pid: int) -> bool:
            seen = 0
            while pid > 1 and seen < 64:
                if group.get(pid) == self.process.pid:
                    return True
                pid, seen = parent.get(pid, 0), seen + 1
            return False

        return sum(kb for pid, kb in rss.items() if belongs(pid)) / 1024

    def lose(self) -> None:
        """The machine dies: every process of the node at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class LocalCluster:
    address: str
    temp: Path
    nodes: list[Node] = field(default_factory=list)
    # Ray's sockets live here: a Unix socket path must stay under 108 bytes, which a
    # pytest tmp_path does not.
    ray_temp: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="ray-", dir="/tmp"))

    @property
    def env(self) -> dict[str, str]:
        """What every process of the cluster, and every driver, needs in its environment.
        Token authentication is off, explicitly: this cluster listens on loopback only, and
        an unset mode would turn it on whenever a ~/.ray/auth_token exists (Ray 2.60), after
        drivers in this process had cached "off". Deployments turn it on (README)."""
        return {**FAST_HEALTH, "RAY_AUTH_MODE": "disabled"}

    def add(self, name: str, resources: dict[str, float], cpus: int = 2,
            head: bool = False) -> Node:
        log = self.temp / f"{name}.log"
        args = [str(RAY), "start", "--block", "--num-cpus", str(cpus),
                "--resources", json.dumps(resources), "--disable-usage-stats",
                "--node-ip-address", "127.0.0.1"]
        if head:
            args += ["--head", "--port", self.address.rsplit(":", 1)[1],
                     "--include-dashboard=false", "--temp-dir", self.ray_temp,
                     "--ray-client-server-port", str(free_port())]
        else:
            args += ["--address", self.address]
        with log.open("wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       env={**os.environ, **self.env},
                                       start_new_session=True)
        node = Node(name, process, log)
        self.nodes.append(node)
        return node

    def wait_nodes(self, count: int, timeout: float = 60) -> float:
        """Seconds until `count` nodes are alive (asked with `ray status`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            for node in self.nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited: "
                                       f"{node.log.read_text()[-2000:]}")
            status = subprocess.run([str(RAY), "status", "--address", self.address],
                                    capture_output=True, text=True,
                                    env={**os.environ, **self.env})
            active = status.stdout.split("Pending:")[0].count(" node_")
            if status.returncode == 0 and active >= count:
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError(f"fewer than {count} ray nodes alive within {timeout} s")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.lose()
        shutil.rmtree(self.ray_temp, ignore_errors=True)


@contextlib.contextmanager
def local_cluster(temp: Path, worker_resources: dict[str, float] | None,
                  head_resources: dict[str, float], head_cpus: int = 2
                  ) -> Iterator[LocalCluster]:
    cluster = LocalCluster(f"127.0.0.1:{free_port()}", temp)
    saved = {key: os.environ.get(key) for key in cluster.env}
    os.environ.update(cluster.env)  # drivers in this process and its children
    try:
        cluster.add("head", head_resources, cpus=head_cpus, head=True)
        cluster.wait_nodes(1)
        if worker_resources is not None:  # None: the head alone
            cluster.add("worker", worker_resources)
            cluster.wait_nodes(2)
        yield cluster
    finally:
        cluster.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
