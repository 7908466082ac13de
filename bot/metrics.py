"""`GET /metrics`: prometheus-client's exposition of every part's metrics.

Each part registers its own metrics where it counts (the recognition scheduler its queue
wait and batch sizes, the pipeline its stage times and latencies, the room its messages):
module-level prometheus-client objects in the default registry, process-wide like the thread
and the models they describe, so nothing has to be folded in when a participant leaves. The
default registry also holds prometheus-client's process collector (CPU seconds, resident
memory). This module adds what belongs to one app (rooms, participants, peer connections,
refused requests, event-loop lag) in a registry of its own, and renders both.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

# `*_created` series double every counter's lines and no dashboard of ours reads them.
disable_created_metrics()

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class LoopLag:
    """How late a 10 ms timer fires on the event loop, over a sliding window."""

    def __init__(self, interval: float = 0.01, window: float = 60.0) -> None:
        self.interval = interval
        self.window = window
        self.samples: deque[tuple[float, float]] = deque()

    def record(self, now: float, lag: float) -> None:
        self.samples.append((now, lag))
        while self.samples and self.samples[0][0] < now - self.window:
            self.samples.popleft()

    def quantiles(self, qs: tuple[float, ...] = (0.5, 0.99)) -> dict[float, float]:
        return quantiles([lag for _, lag in self.samples], qs)

    async def run(self) -> None:
        """Tick until cancelled (the lifespan owns the task)."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            now = loop.time()
            self.record(now, max(0.0, now - before - self.interval))


def quantiles(values: list[float], qs: tuple[float, ...]) -> dict[float, float]:
    """Nearest-rank quantiles; NaN for no values (Prometheus' convention)."""
    ordered = sorted(values)
    if not ordered:
        return {q: math.nan for q in qs}
    return {q: ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
            for q in qs}


@dataclass(frozen=True)
class AppCounts:
    rooms: int
    participants: int
    peer_connections: int


class Metrics:
    """One app's own metrics. `counts` reads the app's rooms when scraped."""

    def __init__(self, counts: Callable[[], AppCounts]) -> None:
        self.counts = counts
        self.loop_lag = LoopLag()
        # Requests refused before any peer connection existed, by reason (auth, rate, ...).
        self.refused: dict[str, int] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_AppCollector(self))

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def exposition(self) -> bytes:
        """The text format of the process-wide registry and this app's."""
        return generate_latest(REGISTRY) + generate_latest(self.registry)


class _AppCollector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        counts = self.metrics.counts()
        yield GaugeMetricFamily("interpres_rooms", "Rooms with at least one participant.",
                                value=counts.rooms)
        yield GaugeMetricFamily("interpres_participants", "Participants in all rooms.",
                                value=counts.participants)
        yield GaugeMetricFamily("interpres_peer_connections",
                                "Peer connections not yet closed, joining ones included.",
                                value=counts.peer_connections)
        refused = CounterMetricFamily(
            "interpres_refused_requests",
            "Join and API requests refused before any peer connection, by reason.",
            labels=["reason"])
        for reason, count in sorted(self.metrics.refused.items()):
            refused.add_metric([reason], count)
        yield refused
        lag = GaugeMetricFamily("interpres_event_loop_lag_seconds",
                                "Lateness of a 10 ms event-loop timer over the last 60 s.",
                                labels=["quantile"])
        for q, value in sorted(self.metrics.loop_lag.quantiles().items()):
            lag.add_metric([f"{q:g}"], value)
        yield lag


@dataclass(frozen=True)
class ProcessStats:
    """CPU and memory of another process (benches read the server's from /proc)."""

    cpu_seconds: float
    resident_bytes: int

    @classmethod
    def read(cls, pid: int | str = "self") -> ProcessStats:
        # Fields after the command name, which may itself hold spaces and parentheses.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return cls((int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE)


def parse(text: str) -> dict[str, float]:
    """Samples of an exposition by `name{labels}`, labels in the order written (the
    prometheus-client parser underneath): what tests and benches compare."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def histogram_quantile(samples: dict[str, float], name: str, q: float,
                       match: str = "") -> float:
    """The `q` quantile of histogram `name` from `parse`d samples, summed over the children
    whose labels contain `match` ('lang="en"'; "" for all), read as the upper bound of the
    bucket it falls in (coarse, as Prometheus' own reading is). NaN when empty."""
    counts: dict[float, float] = {}
    for key, value in samples.items():
        found = re.fullmatch(rf'{re.escape(name)}_bucket\{{(.*)\}}', key)
        if not found:
            continue
        labels = found.group(1)
        le = re.search(r'(?:^|,)le="([^"]+)"', labels)
        if le and match in labels:
            bound = float(le.group(1))
            counts[bound] = counts.get(bound, 0.0) + value
    buckets = sorted(counts.items())
    if not buckets or buckets[-1][1] == 0:
        return math.nan
    total = buckets[-1][1]
    return next(bound for bound, count in buckets if count >= q * total)
