"""One speaker's pipeline: push 16 kHz mono float32 chunks, iterate typed events.

    recognizer (VAD -> streaming ASR)  ->  interpreter (MT per target -> TTS per target)

Two tasks, joined by a queue, so translation and speech never hold up recognition. The
owner starts it with `async with SpeakerPipeline(...)`, pushes audio, calls `end()` and
iterates `events()` until it is exhausted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

import numpy as np
from prometheus_client import Counter, Histogram

from bot.events import Activity, Caption, Event, Notice, Speaker
from bot.phrases import Phrase
from bot.pipeline.engines import Engines
from bot.pipeline.interpreter import Interpreter, InterpreterOptions
from bot.pipeline.recognizer import (
    RATE,
    FinalUtterance,
    Recognizer,
    RecognizerOptions,
    StageTimes,
)

log = logging.getLogger(__name__)
_END = object()
_WAKE = object()  # an interim decode is back (see _wake)
DROPPED_INPUT = Counter("interpres_dropped_input_seconds",
                        "Speaker audio dropped to catch up with live.")
FINAL_LATENCY = Histogram("interpres_final_caption_latency_seconds",
                          "Utterance end to its final caption, per caption language (live "
                          "speakers; source captions in the source language).", ["lang"],
                          buckets=(0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 6, 10))
GAP_PIECE = RATE  # a gap reaches the recognizer as digital silence, a second at a time


@dataclass(frozen=True)
class _Gap:
    """Time without audio: dropped to catch up with live, or no packets arrived (the sender
    stopped, Opus DTX, a stalled network). Only its length is kept, so the timeline (t0, t1)
    stays true and a long stall costs no memory; the recognizer hears it as silence that
    ends the utterance at the first pause, without waiting for a sentence to look finished.
    """

    samples: int


@dataclass(frozen=True)
class PipelineOptions:
    recognizer: RecognizerOptions = field(default_factory=RecognizerOptions)
    interpreter: InterpreterOptions = field(default_factory=InterpreterOptions)
    # When recognition falls this many seconds behind live audio, everything queued is
    # dropped (jump to live): a caption that late helps nobody in a meeting.
    max_input_seconds: float = 10.0


class SpeakerPipeline:
    def __init__(self, speaker: Speaker, engines: Engines, options: PipelineOptions,
                 clock: Callable[[], float] | None = None, input_chunks: int = 0) -> None:
        """`clock` gives "now" in seconds on the speaker's timeline for `emitted_at`; by
        default the audio consumed so far (right for files fed at full speed). Live callers
        pass a wall clock. `input_chunks` bounds the input queue (0: unbounded, live audio
        must never block the network side), so a file reader waits instead of racing ahead.
        """
        self.speaker = speaker
        self.engines = engines
        if clock is None:  # fed as fast as possible: no live load to shed
            options = replace(options, recognizer=replace(options.recognizer, shed_load=False))
        self.options = options
        self.times = StageTimes()
        self._dropped_noticed = -1e9
        # The audio clock reads the recognizer lazily, so it can be handed to it.
        self.clock = clock or self._audio_clock
        self.live = clock is not None
        self.recognizer = Recognizer(speaker, engines.asr, engines.workers, options.recognizer,
                                     self.clock, self.times, engines.scheduler,
                                     engines.interim_asr, wake=self._wake)
        self._input: asyncio.Queue[np.ndarray | object] = asyncio.Queue(input_chunks)
        self._captions: asyncio.Queue[Caption | FinalUtterance | object] = asyncio.Queue()
        self._events: asyncio.Queue[Event | object] = asyncio.Queue()
        self.interpreter = Interpreter(engines.router, engines.voices, engines.asr,
                                       engines.workers, engines.scheduler,
                                       options.interpreter, self._emit, self.clock, self.times)
        self.interpreter.live = self.live
        self._queued_samples = 0
        self.dropped_input_seconds = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    def _audio_clock(self) -> float:
        return self.recognizer.samples_in / RATE

    def _wake(self) -> None:
        """An interim decode is back: let the recognition loop collect it now."""
        with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes it anyway
            self._input.put_nowait(_WAKE)

    def _emit(self, event: Event) -> None:
        if self.live and isinstance(event, Caption) and event.final and event.text:
            # On a live speaker's timeline t1 is when the utterance ended.
            FINAL_LATENCY.labels(event.lang).observe(max(0.0, event.emitted_at - event.t1))
        self._events.put_nowait(event)

    async def __aenter__(self) -> SpeakerPipeline:
        self._tasks = [asyncio.create_task(self._recognize()),
                       asyncio.create_task(self._interpret())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.interpreter.cancel()

    # -- input ----------------------------------------------------------------------------

    async def push(self, chunk: np.ndarray) -> None:
        assert chunk.ndim == 1, "mono audio expected"
        chunk = chunk.astype(np.float32, copy=False)
        limit = int(self.options.max_input_seconds * RATE)
        if self._input.maxsize == 0 and self._queued_samples + len(chunk) > limit:
            self._drop_oldest_input()
        self._queued_samples += len(chunk)
        await self._input.put(chunk)

    def push_gap(self, seconds: float) -> None:
        """`seconds` passed with no audio from the speaker: recognition hears them as silence,
        so an utterance whose last packet has arrived still closes (wall-clock endpointing).
        """
        samples = round(seconds * RATE)
        if samples > 0:
            self._queued_samples += samples
            self._input.put_nowait(_Gap(samples))

    def _drop_oldest_input(self) -> None:
        # Replace the backlog with a gap of the same length: the timeline stays true, and
        # the recognizer passes digital silence for nearly nothing (no model runs on it).
        dropped, gap, ended = 0, 0, False
        while not self._input.empty():
            item = self._input.get_nowait()
            if isinstance(item, np.ndarray):
                dropped += len(item)
            elif isinstance(item, _Gap):
                gap += item.samples
            elif item is _END:
                ended = True  # (a _WAKE needs no keeping: the next item collects)
        self._input.put_nowait(_Gap(dropped + gap))
        if ended:
            self._input.put_nowait(_END)
        self.dropped_input_seconds += dropped / RATE
        DROPPED_INPUT.inc(dropped / RATE)
        now = time.monotonic()
        if now - self._dropped_noticed >= 10.0:  # a stall drops at every push: say it once
            self._dropped_noticed = now
            self._emit(Notice("warning", "audio-dropped",
                              f"recognition fell {(dropped + gap) / RATE:.0f} s behind live: "
                              "skipped to live audio", emitted_at=self.clock()))

    def set_targets(self, targets: tuple[str, ...]) -> None:
        """Change the languages captions are translated into (and spoken in), at once."""
        self.interpreter.options = replace(self.interpreter.options, targets=targets)

    def set_phrases(self, phrases: tuple[Phrase, ...]) -> None:
        """The room's phrase list, from the next decode and translation."""
        if phrases != self.recognizer.options.phrases:
            # What was said before was heard without these terms: as the decoder's prompt
            # its misspellings ("CarbonX" three times) outweigh the listed "Karvonix".
            self.recognizer.forget_context()
        self.recognizer.options = replace(self.recognizer.options, phrases=phrases)
        self.interpreter.options = replace(self.interpreter.options, phrases=phrases)

    def set_profanity(self, modes: tuple[str, ...]) -> None:
        """The profanity settings of the room's listeners (one voice clip per distinct text)."""
        self.interpreter.options = replace(self.interpreter.options, profanity=modes)

    def set_allowed(self, allowed: tuple[str, ...], strict: bool = True) -> None:
        """The languages automatic detection chooses from (the room's), strictly or as a
        preference (see RecognizerOptions); from the next decode. What the speaker was
        found to speak so far is kept."""
        recognizer = self.recognizer
        recognizer.options = replace(recognizer.options, allowed=allowed, allowed_strict=strict)
        recognizer.language.allowed = recognizer.options.tracker().allowed

    def set_language(self, language: str | None) -> None:
        """The speaker declared another language (None: detect); from the next utterance."""
        recognizer = self.recognizer
        recognizer.options = replace(recognizer.options, language=language)
        recognizer.language = recognizer.options.tracker()

    async def end(self) -> None:
        await self._input.put(_END)

    # -- stages ---------------------------------------------------------------------------

    async def _recognize(self) -> None:
        try:
            ended = False
            while not ended:
                chunks = [await self._input.get()]
                while not self._input.empty():
                    chunks.append(self._input.get_nowait())
                if any(chunk is _END for chunk in chunks):  # a _WAKE may come after it
                    chunks = chunks[:next(i for i, c in enumerate(chunks) if c is _END)]
                    ended = True
                for data, gap in self._pieces(chunks):
                    self._queued_samples -= len(data)
                    for item in await self.recognizer.feed(
                            data, backlog=self._queued_samples / RATE, gap=gap):
                        self._route(item)
                for item in self.recognizer.collect():  # an interim back while no audio came
                    self._route(item)
            for item in await self.recognizer.flush():
                self._route(item)
        except Exception as error:
            log.exception("recognition stopped for %s", self.speaker.id)
            self._emit(Notice("error", "recognizer-failed", f"recognition stopped: {error}"))
        finally:
            self._captions.put_nowait(_END)

    @staticmethod
    def _pieces(chunks: list) -> list[tuple[np.ndarray, bool]]:
        """Queued items as (audio, is_gap) to recognise: runs of chunks joined, gaps as
        silence."""
        pieces: list[tuple[np.ndarray, bool]] = []
        run: list[np.ndarray] = []
        for chunk in chunks:
            if isinstance(chunk, np.ndarray):
                run.append(chunk)
                continue
            if run:
                pieces.append((np.concatenate(run), False))
                run = []
            if isinstance(chunk, _Gap):
                whole, rest = divmod(chunk.samples, GAP_PIECE)
                pieces += [(np.zeros(GAP_PIECE, np.float32), True)] * whole
                pieces += [(np.zeros(rest, np.float32), True)] if rest else []
        if run:
            pieces.append((np.concatenate(run), False))
        return pieces

    def _route(self, item: Caption | Notice | FinalUtterance | Activity) -> None:
        if isinstance(item, Notice | Activity):
            self._emit(item)
        elif isinstance(item, FinalUtterance):
            self._emit(item.caption)
            self._captions.put_nowait(item)
        else:
            self._emit(item)
            self._captions.put_nowait(item)

    async def _interpret(self) -> None:
        try:
            while (item := await self._captions.get()) is not _END:
                try:
                    if isinstance(item, FinalUtterance):
                        await self.interpreter.on_final(item)
                    elif isinstance(item, Caption):
                        await self.interpreter.on_interim(item, self._captions.qsize())
                except Exception as error:  # one caption's failure is not the session's
                    log.exception("interpretation failed for %s", self.speaker.id)
                    self._emit(Notice("warning", "interpret-failed", str(error)))
            await self.interpreter.close()
        finally:
            self._events.put_nowait(_END)

    async def events(self) -> AsyncIterator[Event]:
        while (event := await self._events.get()) is not _END:
            yield event  # type: ignore[misc]


def wall_clock() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start
