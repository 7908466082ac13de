"""Operational metrics for `GET /metrics`, in the Prometheus text exposition format.

`Metrics` belongs to the app state: it watches each participant while they are in a room and
folds their pipeline's counters into retired totals when their peer connection closes, so a
counter sums every pipeline, live or past, and never goes down. `exposition` is pure.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bot.mt.apertium import RESTARTS as ENGINE_RESTARTS
from bot.room.participant import Participant

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Counters:
    """Monotonic totals over pipelines; `add` sums two."""

    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_calls: dict[str, int] = field(default_factory=dict)
    stage_failures: dict[str, int] = field(default_factory=dict)
    skipped_interims: int = 0
    dropped_input_seconds: float = 0.0
    gap_seconds: float = 0.0
    dropped_speech_clips: int = 0
    dropped_speech_seconds: float = 0.0
    dropped_caption_messages: int = 0
    sent_caption_messages: int = 0

    def add(self, other: Counters) -> None:
        for stage, seconds in other.stage_seconds.items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        for stage, calls in other.stage_calls.items():
            self.stage_calls[stage] = self.stage_calls.get(stage, 0) + calls
        for stage, failed in other.stage_failures.items():
            self.stage_failures[stage] = self.stage_failures.get(stage, 0) + failed
        self.skipped_interims += other.skipped_interims
        self.dropped_input_seconds += other.dropped_input_seconds
        self.gap_seconds += other.gap_seconds
        self.dropped_speech_clips += other.dropped_speech_clips
        self.dropped_speech_seconds += other.dropped_speech_seconds
        self.dropped_caption_messages += other.dropped_caption_messages
        self.sent_caption_messages += other.sent_caption_messages


def participant_counters(participant: Participant) -> Counters:
    counters = Counters(dropped_caption_messages=participant.dropped_messages,
                        sent_caption_messages=participant.sent_messages)
    pipeline = participant.pipeline
    if pipeline is not None:
        counters.stage_seconds = dict(pipeline.times.seconds)
        counters.stage_calls = dict(pipeline.times.counts)
        counters.stage_failures = dict(pipeline.times.failures)
        counters.skipped_interims = pipeline.times.skipped_interims
        counters.dropped_input_seconds = pipeline.dropped_input_seconds
        if participant.audio is not None:
            counters.gap_seconds = participant.audio.gap_seconds
        for track in pipeline.interpreter.tracks.values():
            counters.dropped_speech_clips += track.dropped
            counters.dropped_speech_seconds += track.dropped_seconds
    return counters


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


class Metrics:
    def __init__(self) -> None:
        self.retired = Counters()
        self.loop_lag = LoopLag()
        self._live: set[Participant] = set()
        # Requests refused before any peer connection existed, by reason (auth, rate, ...).
        self.refused: dict[str, int] = {}

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def watch(self, participant: Participant) -> None:
        """Count this participant from now on; their totals are kept once they leave. The
        room closes the peer connection last when someone leaves, after their pipeline."""
        self._live.add(participant)

        @participant.pc.on("connectionstatechange")
        def on_state() -> None:
            if participant.pc.connectionState == "closed":
                self.retire(participant)

    def retire(self, participant: Participant) -> None:
        if participant in self._live:
            self._live.discard(participant)
            self.retired.add(participant_counters(participant))

    def totals(self) -> Counters:
        total = Counters()
        total.add(self.retired)
        for participant in self._live:
            total.add(participant_counters(participant))
        return total


@dataclass(frozen=True)
class ProcessStats:
    cpu_seconds: float
    resident_bytes: int

    @classmethod
    def read(cls, pid: int | str = "self") -> ProcessStats:
        # Fields after the command name, which may itself hold spaces and parentheses.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return cls((int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE)


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "gauge" or "counter"
    help: str
    samples: tuple[tuple[dict[str, str], float], ...]


def families(rooms: int, participants: int, loop_lag: dict[float, float],
             process: ProcessStats, counters: Counters, peer_connections: int = 0,
             refused: dict[str, int] | None = None) -> list[Family]:
    def one(value: float) -> tuple[tuple[dict[str, str], float], ...]:
        return (({}, value),)

    def by_stage(values: dict[str, float] | dict[str, int]) -> tuple:
        return tuple(({"stage": stage}, value) for stage, value in sorted(values.items()))

    return [
        Family("interpres_rooms", "gauge", "Rooms with at least one participant.", one(rooms)),
        Family("interpres_participants", "gauge", "Participants in all rooms.",
               one(participants)),
        Family("interpres_peer_connections", "gauge",
               "Peer connections not yet closed, joining ones included.",
               one(peer_connections)),
        Family("interpres_refused_requests_total", "counter",
               "Join and API requests refused before any peer connection, by reason.",
               tuple(({"reason": r}, n) for r, n in sorted((refused or {}).items()))),
        Family("interpres_event_loop_lag_seconds", "gauge",
               "Lateness of a 10 ms event-loop timer over the last 60 s.",
               tuple(({"quantile": f"{q:g}"}, v) for q, v in sorted(loop_lag.items()))),
        Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               one(process.resident_bytes)),
        Family("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
               one(process.cpu_seconds)),
        Family("interpres_stage_seconds_total", "counter",
               "Compute seconds spent per pipeline stage.", by_stage(counters.stage_seconds)),
        Family("interpres_stage_calls_total", "counter", "Calls per pipeline stage.",
               by_stage(counters.stage_calls)),
        Family("interpres_stage_failures_total", "counter",
               "Pipeline stage calls that raised (that utterance lost that stage's output).",
               by_stage(counters.stage_failures)),
        Family("interpres_engine_restarts_total", "counter",
               "Engine processes restarted after they died.",
               tuple(({"engine": e}, n) for e, n in sorted(ENGINE_RESTARTS.items()))),
        Family("interpres_skipped_interim_decodes_total", "counter",
               "Interim decodes skipped because recognition was behind.",
               one(counters.skipped_interims)),
        Family("interpres_dropped_input_seconds_total", "counter",
               "Speaker audio dropped to catch up with live.",
               one(counters.dropped_input_seconds)),
        Family("interpres_audio_gap_seconds_total", "counter",
               "Time speakers sent no packets at all, handed to recognition as gaps "
               "(wall-clock endpointing).", one(counters.gap_seconds)),
        Family("interpres_dropped_speech_clips_total", "counter",
               "Synthesized speech clips dropped as stale.", one(counters.dropped_speech_clips)),
        Family("interpres_dropped_speech_seconds_total", "counter",
               "Seconds of synthesized speech dropped as stale.",
               one(counters.dropped_speech_seconds)),
        Family("interpres_dropped_caption_messages_total", "counter",
               "Data-channel messages dropped for peers that stopped reading.",
               one(counters.dropped_caption_messages)),
        Family("interpres_sent_caption_messages_total", "counter",
               "Data-channel messages sent to participants.",
               one(counters.sent_caption_messages)),
    ]


def exposition(families: list[Family]) -> str:
    """The Prometheus text format (version 0.0.4) of these families."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            name = f"{family.name}{{{label_text}}}" if labels else family.name
            lines.append(f"{name} {format_value(value)}")
    return "\n".join(lines) + "\n"


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def parse(text: str) -> dict[str, float]:
    """Samples of an exposition by `name{labels}` as written: enough for tests and benches,
    not a general parser (no escaped quotes or commas inside label values)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples

