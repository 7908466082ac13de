"""Per target language: translate source captions, then speak the final translations.

Finals are always translated; the committed text of interims at most every
`interim_translation_interval` seconds per segment, and not at all while the stage is behind.
Speech runs per language in its own task, so a slow voice never delays captions; when a
language's track falls behind, it speaks faster, then drops stale audio (never captions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from prometheus_client import Histogram

from bot import profanity
from bot.asr.guards import rejection, trim_repetition
from bot.asr.scheduler import RecognitionScheduler
from bot.asr.whisper import DecodeOptions, WhisperEngine
from bot.events import Caption, Event, Notice, SpeechAudio
from bot.mt.base import URGENT, TranslationError
from bot.mt.router import NoRoute, Route, TranslationRouter
from bot.phrases import Phrase, canonical, hotwords, spoken, translate_keeping
from bot.pipeline.punctuation import as_sentence, capitalized
from bot.pipeline.recognizer import FinalUtterance, StageTimes
from bot.pipeline.speech_queue import SpeechQueue
from bot.tts.resample import to_int16_48k
from bot.tts.voices import VoiceRegistry
from bot.workers import Workers

log = logging.getLogger(__name__)
VOICE_LATENCY = Histogram("interpres_interpretation_audio_latency_seconds",
                          "Utterance end to the start of its interpretation audio, per "
                          "language (live speakers).", ["lang"],
                          buckets=(0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 6, 10))


@dataclass(frozen=True)
class InterpreterOptions:
    """`phrases`: the room's phrase list (kept or mapped exactly in translations, said as
    given). `profanity`: the settings of the room's listeners; the voice makes one clip per
    distinct text they need."""

    targets: tuple[str, ...] = ()
    speech: bool = True
    phrases: tuple[Phrase, ...] = ()
    profanity: tuple[str, ...] = ("raw",)
    interim_translation_interval: float = 1.0
    max_pending: int = 4  # queued source captions above which interim translations are skipped


class Interpreter:
    def __init__(self, router: TranslationRouter, voices: VoiceRegistry | None,
                 asr: WhisperEngine, workers: Workers, scheduler: RecognitionScheduler,
                 options: InterpreterOptions,
                 emit: Callable[[Event], None], clock: Callable[[], float],
                 times: StageTimes) -> None:
        self.router = router
        self.voices = voices
        self.asr = asr
        self.workers = workers
        self.scheduler = scheduler
        self.live = False  # the session sets it: times are on a live speaker's timeline
        self.options = options
        self.emit = emit
        self.clock = clock
        self.times = times
        self._routes: dict[tuple[str, str], Route | None] = {}
        self._revs: dict[tuple[str, str], int] = {}
        self._last_interim: dict[str, tuple[float, str]] = {}
        self._speech_queues: dict[str, asyncio.Queue[Caption | None]] = {}
        self._speech_tasks: list[asyncio.Task[None]] = []
        self.tracks: dict[str, SpeechQueue] = {}

    # -- routes ---------------------------------------------------------------------------

    def route(self, source: str, target: str) -> Route | None:
        key = (source, target)
        if key not in self._routes:
            try:
                self._routes[key] = self.router.route(source, target)
            except NoRoute as error:
                self._routes[key] = None
                self.emit(Notice("warning", "no-route", str(error), emitted_at=self.clock()))
        return self._routes[key]

    def _next_rev(self, segment: str, lang: str) -> int:
        rev = self._revs.get((segment, lang), 0) + 1
        self._revs[(segment, lang)] = rev
        return rev

    # -- translation ----------------------------------------------------------------------

    async def on_interim(self, caption: Caption, pending: int) -> None:
        """Translate the interim's whole current text (committed words and unstable tail),
        so a listener reads something within a second or two of speech; at most once per
        `interim_translation_interval` per segment, only when the text changed and the
        language is settled, and not at all while finals are queued behind."""
        if not caption.language_settled or not caption.text or pending > self.options.max_pending:
            return
        last = self._last_interim.get(caption.segment)
        now = self.clock()
        if last and (last[1] == caption.text
                     or now - last[0] < self.options.interim_translation_interval):
            return
        self._last_interim[caption.segment] = (now, caption.text)
        for target in self.options.targets:
            route = self.route(caption.source_lang, target)
            if route is None or route.engine == "noop" or route.via_speech:
                continue
            text = await self._translate(route, caption.text, "mt_interim")
            if text is None:
                continue
            self.emit(replace(caption, lang=target, text=capitalized(text), committed="",
                              words=(),
                              engine=route.engine, rev=self._next_rev(caption.segment, target),
                              emitted_at=self.clock()))

    async def on_final(self, final: FinalUtterance) -> None:
        caption = final.caption
        self._last_interim.pop(caption.segment, None)
        routes = [(target, self.route(caption.source_lang, target))
                  for target in self.options.targets if target != caption.source_lang]
        routes = [(target, route) for target, route in routes if route is not None]
        english: str | None = None
        if caption.text and any(route.via_speech for _, route in routes):
            english = await self._speech_to_english(final)
        # Every target at once: the pairs are separate processes.
        texts = await asyncio.gather(*(
            self._final_translation(route, english if route.via_speech else caption.text)
            for _, route in routes))
        for (target, route), text in zip(routes, texts, strict=True):
            text = as_sentence(text, target) if text is not None else None
            if text is None:
                text = ""
                self.emit(Notice("warning", "mt-failed",
                                 f"translation {route.engine} failed for segment "
                                 f"{caption.segment}", emitted_at=self.clock()))
            translated = replace(caption, lang=target, text=text, committed=text, words=(),
                                 engine=route.engine,
                                 rev=self._next_rev(caption.segment, target),
                                 emitted_at=self.clock())
            self.emit(translated)
            if text and self.options.speech:
                self._speak(translated)

    async def _final_translation(self, route: Route, text: str | None) -> str | None:
        if not text:
            return ""
        return await self._translate(route, text, "mt_final")

    async def _translate(self, route: Route, text: str, stage: str) -> str | None:
        started = time.perf_counter()
        urgent = URGENT.set(stage == "mt_final")  # the worker thread gets a copy
        try:
            return await self.workers.engine(self._translate_keeping, route, text,
                                             self.options.phrases)
        except TranslationError as error:  # an engine saying no: no traceback needed
            log.warning("translation %s failed: %s", route.engine, error)
            self.times.fail(stage)
            return None
        except Exception:
            log.exception("translation %s failed", route.engine)
            self.times.fail(stage)
            return None
        finally:
            URGENT.reset(urgent)
            self.times.add(stage, time.perf_counter() - started)

    def _translate_keeping(self, route: Route, text: str, phrases: tuple[Phrase, ...]) -> str:
        return translate_keeping(text, phrases, route.target,
                                 lambda piece: self.router.translate(route, piece))

    async def _speech_to_english(self, final: FinalUtterance) -> str:
        started = time.perf_counter()
        try:
            terms = self.options.phrases
            transcript = await self.scheduler.decode(self.asr, final.audio, DecodeOptions(
                language=final.caption.source_lang, task="translate", beam_size=5,
                fallback=True, hotwords=hotwords(terms)), kind="translate")
            # The same guards as recognition: a looping or improbable translation is dropped
            # (the source caption stands alone) rather than spoken.
            transcript = replace(transcript, text=trim_repetition(transcript.text))
            if rejection(transcript, final.audio.size / 16000, "en") is not None:
                return ""
            return canonical(transcript.text, terms)
        except Exception:
            log.exception("speech translation failed")
            self.times.fail("asr_translate")
            return ""
        finally:
            self.times.add("asr_translate", time.perf_counter() - started)

    # -- speech ---------------------------------------------------------------------------

    def _speak(self, caption: Caption) -> None:
        queue = self._speech_queues.get(caption.lang)
        if queue is None:
            queue = asyncio.Queue()
            self._speech_queues[caption.lang] = queue
            self.tracks[caption.lang] = SpeechQueue()
            self._speech_tasks.append(asyncio.create_task(self._speech_loop(caption.lang, queue)))
        queue.put_nowait(caption)

    async def _speech_loop(self, lang: str, queue: asyncio.Queue[Caption | None]) -> None:
        voice = self.voices.voice_for(lang) if self.voices else None
        track = self.tracks[lang]
        if voice is None:
            self.emit(Notice("warning", "no-voice", f"no voice for {lang}: captions only",
                             emitted_at=self.clock()))
        while (caption := await queue.get()) is not None:
            if voice is None:
                continue
            speed = track.speed_for(self.clock())
            clips: list[tuple[str, tuple[str, ...], np.ndarray]] = []
            for said, modes in self._spoken_variants(caption.text, lang).items():
                started = time.perf_counter()
                try:
                    samples = await self.workers.tts(self._synthesize, voice, said, speed)
                except Exception as error:
                    log.exception("speech synthesis failed for %s", lang)
                    self.times.fail("tts")
                    self.emit(Notice("warning", "tts-failed",
                                     f"voice {voice.name} failed: {error}",
                                     emitted_at=self.clock()))
                    continue
                finally:
                    self.times.add("tts", time.perf_counter() - started)
                clips.append((said, modes, samples))
            if not clips:
                continue
            now = self.clock()
            start = track.schedule(now, max(len(samples) for _, _, samples in clips) / 48000)
            if start is None:
                continue  # behind by more than the track's max lag: stale, dropped, counted
            if self.live:
                VOICE_LATENCY.labels(lang).observe(max(0.0, start - caption.t1))
            for said, modes, samples in clips:
                self.emit(SpeechAudio(segment=caption.segment, lang=lang, text=said,
                                      samples=samples, sample_rate=48000, t0=caption.t0,
                                      voice=voice.name, speed=speed, emitted_at=now,
                                      play_at=start, profanity=modes))

    def _spoken_variants(self, text: str, lang: str) -> dict[str, tuple[str, ...]]:
        """What the voice says for each profanity setting in use, one entry per distinct
        text (usually one: the sentence has no listed word); terms said as given."""
        variants: dict[str, tuple[str, ...]] = {}
        for mode in self.options.profanity or ("raw",):
            said = spoken(profanity.spoken(text, lang, mode), self.options.phrases, lang)
            if said.strip():
                variants[said] = (*variants.get(said, ()), mode)
        return variants

    @staticmethod
    def _synthesize(voice, text: str, speed: float) -> np.ndarray:
        return to_int16_48k(voice.synthesize(text, speed=speed), voice.sample_rate)

    async def cancel(self) -> None:
        """Stop speaking at once (the speaker left): queued speech is dropped."""
        for task in self._speech_tasks:
            task.cancel()
        await asyncio.gather(*self._speech_tasks, return_exceptions=True)

    async def close(self) -> None:
        """Finish speaking what is queued, then stop."""
        for queue in self._speech_queues.values():
            queue.put_nowait(None)
        if self._speech_tasks:
            await asyncio.gather(*self._speech_tasks)
