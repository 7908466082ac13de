"""One recognition scheduler for every speaker of the process.

Every pipeline (built-in rooms, Janus rooms, files) hands its Whisper decodes here instead of
running them itself. `lanes` threads serve them, each running one CTranslate2 call at a time
(the engine has as many CTranslate2 workers). On a CPU, two lanes of one CTranslate2 thread
each beat one lane of two threads: a beam-5 final took 0.29 s against 0.45 s on a 2-core
machine, and two at once 0.35 s each (config.recognition_lanes). What a lane takes next is
decided in one place:

- finals (and Whisper's speech->English) before interims; within a kind, earliest deadline
  first (a final's deadline is when its caption is due, an interim's when it goes stale);
- an interim that waited past its deadline is dropped, and so is one that a newer request of
  the same speaker supersedes (its next interim, or its final): their callers get `Dropped`;
- interims never hold every lane: with two lanes or more, one is kept for finals, so a
  final never waits behind interims; and they run on the engine's niced copy of the model
  where it has one (WhisperEngine background_nice), so a final's threads get the cores
  first;
- requests that can share a CTranslate2 call (`whisper.batch_key`: same model, encoder
  window, task and beam) go together, up to `max_batch` and spread over the idle lanes: on
  a GPU a batch of sixteen costs about what one does; on a 2-core CPU the decoder still
  gains 1.6-2.4x past eight (bench.batching), while two lanes run two calls at once;
- if a batched call fails, its requests are retried one by one, so a bad request fails only
  its own caller;
- the load-shedding ladder (interim spacing and beam, then finals without the lead)
  follows from how busy the lanes are (`plan`).

Queue wait, batch size and decode time per request kind go to the metrics.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from bot.asr.load import AsrLoad, LoadPlan
from bot.asr.whisper import DecodeOptions, Transcript, WhisperEngine, batch_key

log = logging.getLogger(__name__)

Kind = Literal["final", "interim", "translate", "call"]
# Lower runs first. A plain call (tests' stalls, warm-ups) goes ahead of everything.
RANK: dict[str, int] = {"call": 0, "final": 1, "translate": 1, "interim": 2}
# How long after submission a final's caption is due; orders finals among themselves.
FINAL_DUE = 2.0
INTERIM_DUE = 1.0


# Process-wide, like the thread pool they describe: every scheduler of the process adds up.
QUEUE_WAIT = Histogram("interpres_asr_queue_wait_seconds",
                       "Time a recognition request waited for a recognition lane.",
                       ["kind"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8))
BATCH_SIZE = Histogram("interpres_asr_batch_size", "Requests served by one CTranslate2 call.",
                       buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64))
DECODE_SECONDS = Histogram("interpres_asr_decode_seconds",
                           "Duration of the (batched) call that served a request.", ["kind"],
                           buckets=(0.05, 0.1, 0.2, 0.4, 0.7, 1, 1.5, 2, 4, 8))
DROPPED = Counter("interpres_asr_dropped_requests_total",
                  "Interim decodes dropped unserved: superseded or stale.", ["kind", "reason"])
QUEUE_DEPTH = Gauge("interpres_asr_queue_depth", "Recognition requests waiting now.")
RUNNING = Gauge("interpres_asr_running_calls",
                "Recognition calls running now, at most interpres_asr_lanes.")
LANES = Gauge("interpres_asr_lanes", "Recognition calls that can run at once.")
INTERIM_SPACING = Gauge("interpres_asr_interim_spacing",
                        "Load shedding: the last interim schedule was this many times further "
                        "apart than configured (1: not shedding).")
for _kind in ("final", "interim", "translate"):  # graphs show zeros, not "no data"
    QUEUE_WAIT.labels(_kind)
    DECODE_SECONDS.labels(_kind)


class Dropped(Exception):
    """The scheduler dropped an interim decode: superseded or past its deadline."""


@dataclass(eq=False)
class Request:
    kind: str
    deadline: float
    speaker: str | None
    future: Future
    submitted: float
    seq: int
    engine: WhisperEngine | None = None
    audio: np.ndarray | None = None
    options: DecodeOptions | None = None
    call: Callable[[], Any] | None = None
    key: tuple = ()

    def order(self) -> tuple[int, float, int]:
        return RANK[self.kind], self.deadline, self.seq


@dataclass
class KindStats:
    """Per request kind, for benches and tests: what the metrics histograms also get."""

    served: int = 0
    dropped: int = 0
    failed: int = 0
    waits: list[float] = field(default_factory=list)
    decode_seconds: float = 0.0
    batches: int = 0
    batched_items: int = 0

    def keep(self, wait: float) -> None:
        self.waits.append(wait)
        del self.waits[:-2000]  # a sliding sample, not a leak


class RecognitionScheduler:
    def __init__(self, max_batch: int = 8, clock: Callable[[], float] = time.monotonic,
                 name: str = "interpres-asr", lanes: int = 1) -> None:
        """`lanes`: calls run at once; give the engines as many workers (WhisperEngine)."""
        self.max_batch = max_batch
        self.clock = clock
        self.lanes = max(1, lanes)
        # With two lanes or more, interims leave one lane to finals.
        self.interim_lanes = max(1, self.lanes - 1)
        # Load shedding reads decode seconds per second over the lanes interims may use:
        # past one, the cores are full (each lane's call uses its own), and interims and
        # finals slow each other down instead of waiting in line.
        self.load = AsrLoad(lanes=self.interim_lanes)
        self.stats: dict[str, KindStats] = {kind: KindStats() for kind in RANK}
        self._pending: list[Request] = []
        self._wake = threading.Condition()
        self._seq = itertools.count()
        self._closed = False
        self._running: dict[int, tuple[str, float]] = {}  # lane -> (kind, perf_counter start)
        self._threads = [threading.Thread(target=self._serve, args=(lane,),
                                          name=f"{name}-{lane}", daemon=True)
                         for lane in range(self.lanes)]
        LANES.set(self.lanes)
        for thread in self._threads:
            thread.start()

    # -- submitting (any thread, usually an event loop) -----------------------------------

    async def decode(self, engine: WhisperEngine, audio: np.ndarray, options: DecodeOptions,
                     kind: Kind = "final", speaker: str | None = None,
                     deadline: float | None = None) -> Transcript:
        """Decode on a recognition lane. Raises `Dropped` for an interim that was
        superseded or went stale, the decode's own error otherwise."""
        now = self.clock()
        due = deadline if deadline is not None else now + (
            INTERIM_DUE if kind == "interim" else FINAL_DUE)
        request = Request(kind, due, speaker, Future(), now, next(self._seq), engine=engine,
                          audio=audio, options=options, key=(id(engine),
                                                             *batch_key(audio, options)))
        return await self._submit(request)

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on a recognition lane, ahead of every decode (warm-ups, and tests
        that stall recognition on purpose)."""
        now = self.clock()
        return await self._submit(Request("call", now, None, Future(), now, next(self._seq),
                                          call=fn))

    async def _submit(self, request: Request) -> Any:
        with self._wake:
            if self._closed:
                raise RuntimeError("the recognition scheduler is closed")
            if request.speaker is not None:
                # A speaker's newer request makes its queued interim useless.
                for old in [r for r in self._pending if r.speaker == request.speaker
                            and r.kind == "interim"]:
                    self._pending.remove(old)
                    self._drop(old, "superseded")
            self._pending.append(request)
            QUEUE_DEPTH.set(len(self._pending))
            self._wake.notify()
        return await asyncio.wrap_future(request.future)

    # -- load -----------------------------------------------------------------------------

    def plan(self, interval: float, beam: int) -> LoadPlan:
        """The load-shedding plan (interim schedule, finals' lead), from how busy the lanes
        were lately (the calls running now included) and whether finals wait for one."""
        now = time.perf_counter()
        with self._wake:
            finals_wait = any(r.kind != "interim" for r in self._pending)
            running = sum(now - started for _, started in self._running.values())
            busy = min(1.0, self.load.busy(now) + running / (self.load.window
                                                             * self.load.lanes))
        if finals_wait:
            busy = max(busy, 0.85)
        plan = self.load.plan_for(busy, interval, beam)
        INTERIM_SPACING.set(plan.interval / interval if interval else 1.0)
        return plan

    def queued(self) -> int:
        with self._wake:
            return len(self._pending)

    # -- the recognition lanes ------------------------------------------------------------

    def _serve(self, lane: int) -> None:
        while True:
            with self._wake:
                while True:
                    if self._closed and not self._pending:
                        return
                    batch = self._next_batch()
                    if batch:
                        break
                    # Nothing queued, or only interims while they hold their lanes.
                    self._wake.wait()
                QUEUE_DEPTH.set(len(self._pending))
                self._running[lane] = (batch[0].kind, time.perf_counter())
                RUNNING.set(len(self._running))
            try:
                self._run(batch)
            finally:
                with self._wake:
                    del self._running[lane]
                    RUNNING.set(len(self._running))
                    self._wake.notify_all()  # a lane may wait for an interim's lane

    def _next_batch(self) -> list[Request]:
        """Under the lock: drop stale interims, then take the most urgent request this lane
        may run and the queued ones that can share its call, in order of urgency (spread
        over the idle lanes)."""
        now = self.clock()
        for request in [r for r in self._pending if r.kind == "interim" and r.deadline < now]:
            self._pending.remove(request)
            self._drop(request, "expired")
        # A cancelled caller (a speaker who left) needs nothing.
        self._pending = [r for r in self._pending if not r.future.cancelled()]
        self._pending.sort(key=Request.order)
        interims = sum(kind == "interim" for kind, _ in self._running.values())
        allowed = [r for r in self._pending
                   if r.kind != "interim" or interims < self.interim_lanes]
        if not allowed:
            return []
        head = allowed[0]
        if head.kind == "call":
            batch = [head]
        else:
            batch = [r for r in allowed if r.kind != "call" and r.key == head.key]
            idle = self.lanes - len(self._running)  # this lane included
            batch = batch[:min(self.max_batch, math.ceil(len(batch) / idle))]
        for request in batch:
            self._pending.remove(request)
        return [r for r in batch if r.future.set_running_or_notify_cancel()]

    def _run(self, batch: list[Request]) -> None:
        started = time.perf_counter()
        now = self.clock()
        for request in batch:
            wait = now - request.submitted
            self.stats[request.kind].keep(wait)
            QUEUE_WAIT.labels(request.kind).observe(wait)
        if batch[0].call is not None:
            self._finish(batch[0], batch[0].call)
        else:
            self._decode(batch)
        seconds = time.perf_counter() - started
        with self._wake:
            self.load.record(time.perf_counter(), seconds)
            for request in batch:
                stats = self.stats[request.kind]
                stats.batches += 1
                stats.batched_items += len(batch)
                stats.decode_seconds += seconds / len(batch)
        BATCH_SIZE.observe(len(batch))
        for request in batch:
            DECODE_SECONDS.labels(request.kind).observe(seconds)

    def _decode(self, batch: list[Request]) -> None:
        engine = batch[0].engine
        assert engine is not None
        # Interims on the engine's niced copy, when it has one (WhisperEngine).
        background = batch[0].kind == "interim"
        try:
            results = engine.transcribe_batch([(r.audio, r.options) for r in batch],
                                              background=background)
        except Exception:
            if len(batch) == 1:
                results = None
            else:
                log.warning("a batch of %d decodes failed; retrying them one by one",
                            len(batch), exc_info=True)
                for request in batch:
                    self._finish(request, lambda r=request: engine.transcribe(
                        r.audio, r.options, background=background))
                return
        if results is None:
            self._finish(batch[0], lambda: engine.transcribe(
                batch[0].audio, batch[0].options, background=background))
            return
        for request, result in zip(batch, results, strict=True):
            self._finish(request, lambda result=result: _raise_or_return(result))

    def _finish(self, request: Request, produce: Callable[[], Any]) -> None:
        try:
            value = produce()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            with self._wake:
                self.stats[request.kind].failed += 1
            request.future.set_exception(error)
        else:
            with self._wake:
                self.stats[request.kind].served += 1
            request.future.set_result(value)

    def _drop(self, request: Request, why: str) -> None:
        self.stats[request.kind].dropped += 1
        DROPPED.labels(request.kind, why).inc()
        if request.future.set_running_or_notify_cancel():
            request.future.set_exception(Dropped(why))

    def close(self) -> None:
        """Finish what is running, fail what waits, stop the thread."""
        with self._wake:
            self._closed = True
            for request in self._pending:
                if request.future.set_running_or_notify_cancel():
                    request.future.set_exception(RuntimeError("recognition scheduler closed"))
            self._pending.clear()
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)


def _raise_or_return(result: Transcript | BaseException) -> Transcript:
    if isinstance(result, BaseException):
        raise result
    return result
