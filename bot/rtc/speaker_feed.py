"""Feeds one speaker's pipeline from a remote track, on the wall clock.

Recognition only moves when audio arrives. A sender that stops (a file that ended, Opus DTX,
`track.stop()`, a stalled network, a publisher who left an SFU) sends nothing at all, so
without help the last utterance would never close: no final, no translation, no voice. The
feed watches the time since the last packet; past `gap_after` it hands the pipeline the
missing time as an explicit gap (silence that closes the utterance at its first pause), and
keeps doing so while the packets stay away. When the track ends, `close` pushes what is
pending and asks the pipeline to finish what was said.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np
from prometheus_client import Counter

from bot.pipeline.session import SpeakerPipeline
from bot.rtc.inbound import SpeechChunks

GAP_SECONDS = Counter("interpres_audio_gap_seconds",
                      "Time speakers sent no packets at all, handed to recognition as gaps "
                      "(wall-clock endpointing).")
# A jitter buffer holds 40-80 ms and a browser sends a packet every 20 ms: a quarter of a
# second without any is the sender stopping, not the network's jitter.
GAP_AFTER = 0.25
TICK = 0.1
LATE = 0.05  # a tick this late means the loop stalled (see _watch_gaps)
# How long a leaving speaker's last utterance may take to be finalised, translated and spoken.
FINISH_TIMEOUT = 15.0


class SpeakerFeed:
    def __init__(self, pipeline: SpeakerPipeline, chunk_samples: int = 1600,
                 gap_after: float = GAP_AFTER, tick: float = TICK,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pipeline = pipeline
        self.chunks = SpeechChunks(chunk_samples)
        self.gap_after = gap_after
        self.tick = tick
        self.clock = clock
        self._last_audio = clock()
        self._covered = self._last_audio  # wall time up to which the pipeline has input
        self.gap_seconds = 0.0  # total time handed over as gaps (tests, metrics)
        self._watch: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._last_audio = self._covered = self.clock()
        self._watch = asyncio.create_task(self._watch_gaps())

    async def audio(self, speech: np.ndarray) -> None:
        """One frame of 16 kHz speech arrived."""
        now = self.clock()
        self._last_audio = now
        self._covered = max(self._covered, now)
        chunk = self.chunks.add(speech)
        if chunk is not None:
            await self.pipeline.push(chunk)

    async def close(self, finish: bool = True) -> None:
        """The track ended: stop watching; with `finish`, push what is pending and end the
        pipeline's input, so its last utterance is finalised. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if finish:
            rest = self.chunks.flush()
            if rest is not None:
                await self.pipeline.push(rest)
            await self.pipeline.end()

    async def release(self, events: asyncio.Task[None] | None, finish: bool) -> bool:
        """The speaker is gone: close the feed and the pipeline. With `finish`, first let
        `events` (the task that hands the pipeline's events to the room) deliver what they
        said last, for FINISH_TIMEOUT at most. False when that ran out of time."""
        await self.close(finish=finish)
        finished = True
        try:
            if finish and events is not None:
                done, _ = await asyncio.wait({events}, timeout=FINISH_TIMEOUT)
                finished = bool(done)
        finally:  # also when that wait is cancelled (a shutdown): the events stop with it
            if events is not None:
                events.cancel()
                await asyncio.gather(events, return_exceptions=True)
            await self.pipeline.__aexit__(None, None, None)
        return finished

    async def _watch_gaps(self) -> None:
        woke = self.clock()
        while True:
            await asyncio.sleep(self.tick)
            now, expected = self.clock(), woke + self.tick
            woke = now
            if now - expected > LATE:
                # The event loop stalled: frames that arrived meanwhile may still wait in
                # the track's queue. Look again next tick, after they had their turn.
                continue
            if now - self._last_audio < self.gap_after:
                continue
            rest = self.chunks.flush()  # the last words before the gap go first
            if rest is not None:
                await self.pipeline.push(rest)
            self.pipeline.push_gap(now - self._covered)
            self.gap_seconds += now - self._covered
            GAP_SECONDS.inc(now - self._covered)
            self._covered = now
