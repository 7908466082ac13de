"""Streaming recognition for one speaker: audio chunks in, source-language captions out.

VAD -> segmenter -> interim decodes with LocalAgreement -> one final decode per utterance.
Decodes are scheduled on audio time (every `interim_interval` seconds of new speech), so a
file fed at full speed gives the same captions as a live stream on an infinitely fast
machine; on a slow machine interims are skipped first (load shedding), finals never.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from prometheus_client import Counter, Histogram

from bot.asr.guards import rejection, trim_doubled, trim_repetition
from bot.asr.load import LoadPlan
from bot.asr.scheduler import Dropped, RecognitionScheduler
from bot.asr.vad import StreamingVad
from bot.asr.whisper import DecodeOptions, Lead, Transcript, WhisperEngine
from bot.config_file import LEAD_SECONDS
from bot.events import Activity, Caption, Notice, Speaker, Word
from bot.languages import CHARACTER_SCRIPTS
from bot.phrases import Phrase, canonical, hotwords
from bot.pipeline.agreement import (
    Agreement,
    copies_context,
    corrected,
    join_units,
    repeats_context,
    split_units,
    unit_probabilities,
    without_edge,
)
from bot.pipeline.language import LanguageTracker
from bot.pipeline.lead import chained, next_lead, within
from bot.pipeline.punctuation import as_sentence, capitalized, open_ended
from bot.pipeline.segmenter import WINDOW, Segmenter, SegmenterOptions
from bot.workers import Workers

log = logging.getLogger(__name__)
RATE = 16000
# Detection probability of another language above which a speaker who spoke before is not
# taken to go on in their language (their interims wait for the utterance to settle).
SWITCH_CLEARLY = 0.8
# Share of the utterance's (duration-weighted) language evidence needed to settle early.
SETTLE_SHARE = 0.7
SENTENCE_ENDS = (".", "?", "!", "。", "？", "！", "…")
# Previous text given to the decoder as its prompt (whisper_streaming keeps 200 too).
CONTEXT_CHARS = 200
# Below these, an utterance says too little about its language to change the speaker's.
TELLING_UNITS = 3  # words (twice as many characters for Chinese, Japanese...)
TELLING_SECONDS = 1.0
# A speaker's first utterance whose detection gives its leader less than this is also
# decoded in the runner-up language, and the reading the model is surer of wins (see
# Recognizer._read_best).
UNSURE_FIRST = 0.7
# Seconds of an utterance's end after a final's last word that make it read again without
# the lead (the utterance ends within a pre-roll pad of its last speech).
STOPS_SHORT = 1.5


def _joined(context: str, text: str, lang: str) -> str:
    """`text` after `context`, the whole kept to its last CONTEXT_CHARS (from a whole word)."""
    joiner = "" if lang in CHARACTER_SCRIPTS else " "
    joined = (context + joiner + text if context else text).strip()
    if len(joined) > CONTEXT_CHARS:
        joined = joined[-CONTEXT_CHARS:]
        if joiner:
            joined = joined.partition(" ")[2] or joined
    return joined.strip()


def stops_short(transcript: Transcript, seconds: float) -> bool:
    """Whether a decode's last word ends well before its audio does: the utterance ends
    where its speech ends (the segmenter's speech_end), so seconds of it went unread."""
    return bool(transcript.words) and seconds - transcript.words[-1].end > STOPS_SHORT


def evidence_weight(transcript: Transcript) -> float:
    """How much one decode's detection counts for the speaker's language (full at 3 s)."""
    return min(1.0, transcript.duration / 3.0)


def too_little_to_tell(transcript: Transcript) -> bool:
    """Short or only digits: too little to judge a language by."""
    text = "".join(ch for ch in transcript.text if ch.isalnum())
    units = len(split_units(transcript.text, transcript.language))
    needed = TELLING_UNITS * (2 if transcript.language in CHARACTER_SCRIPTS else 1)
    return (not text or text.isnumeric() or units < needed
            or transcript.duration < TELLING_SECONDS)


@dataclass(frozen=True)
class RecognizerOptions:
    """Attributes:
    language: the speaker's language, or None for automatic detection within `allowed`.
    allowed: languages automatic detection may choose from (empty: any).
    allowed_strict: False: `allowed` is a preference (the room's languages, when none are
      configured); a language outside it is chosen when detection is near certain of it.
    interim_interval: seconds of new audio between interim decodes.
    first_interim: seconds of utterance audio before the first interim decode.
    settle_language_after: with automatic language, seconds of an utterance after which its
      language is decided; nothing is committed before (detection on a second of audio is
      unreliable: "Las arenas" alone was taken for Arabic).
    interim_beam: beam size of interim decodes. Greedy is ~30% cheaper but on the Spanish
      clip it committed "blancasinas" where a beam of 2 finds "blanquecinas": committed words
      can't be corrected later, so interims pay for the small beam.
    final_beam: beam size of the final decode.
    max_backlog: seconds of unprocessed audio above which interims are skipped.
    shed_load: space and cheapen interims when the shared ASR thread is busy (live audio).
      Off for files fed at full speed: the thread is always busy there by design, and the
      captions should be those of an infinitely fast machine.
    complete_units: a pause closes an utterance early only when its text has at least this
      many words (twice as many characters for Chinese, Japanese...) and ends a sentence.
    quiet_skip: no interim decode once the speaker has been silent this long: the pause
      decode follows within `hangover` and must not wait behind an interim.
    correction_prob: the final may change words interims committed where each word it puts
      in their place has at least this probability (agreement.corrected). 0, the default:
      wherever it reads them differently. Interims commit a sentence's first words from a
      second of audio; the final, which heard all of it with the lead, was right more often
      than they were even where it was unsure (figures in the README's accuracy section).
      Higher values keep more of what listeners already read.
    lead_seconds: a final decode first hears up to this much of the end of what the
      speaker said before (their last utterances, pauses cut short) and reads on from its
      words (bot.pipeline.lead); 0: never.
    segmenter: VAD segmentation settings.
    phrases: the room's phrase list: its terms go into every decode's prompt, and come out
      written as listed.
    """

    language: str | None = None
    allowed: tuple[str, ...] = ()
    allowed_strict: bool = True
    interim_interval: float = 0.6
    first_interim: float = 1.0
    interim_beam: int = 2
    final_beam: int = 5
    settle_language_after: float = 2.0
    quiet_skip: float = 0.15
    complete_units: int = 6
    shed_load: bool = True
    max_backlog: float = 1.5
    correction_prob: float = 0.0
    lead_seconds: float = LEAD_SECONDS
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    phrases: tuple[Phrase, ...] = ()

    def tracker(self) -> LanguageTracker:
        """A fresh language tracker for these options (a preferred set filters nothing:
        detection already weighed it)."""
        return LanguageTracker(fixed=self.language,
                               allowed=self.allowed if self.allowed_strict else ())


@dataclass
class Utterance:
    index: int
    start: int  # absolute sample index
    agreement: Agreement | None = None
    language: str | None = None
    rev: int = 0
    decoded_until: int = 0  # absolute sample index covered by the last interim decode
    shown: bool = False  # an interim was emitted (a rejected final must clear it)
    evidence: dict[str, float] = field(default_factory=dict)  # summed language probabilities
    # A final-quality decode made at a pause: (end sample, transcript, decode language).
    speculative: tuple[int, Transcript, str] | None = None
    # Interim hypotheses (language, text) from before the language settled: once it does,
    # those in that language vote at once, so the first commit need not wait for new ones.
    unsettled: list[tuple[str, str]] = field(default_factory=list)
    # An interim of it wrote out the speaker's earlier text (agreement.repeats_context):
    # its later interims go without that prompt (the final checks its own decode).
    fresh: bool = False
    # One of those later interims, decoded without the prompt, read the same earlier words
    # again: the speaker said them again, and a final that reads them is no copy.
    said_again: bool = False


@dataclass(frozen=True)
class FinalUtterance:
    """A final source caption plus the audio it came from (Whisper's speech->English
    translation needs the audio, not the text)."""

    caption: Caption
    audio: np.ndarray


STAGE_SECONDS = Histogram("interpres_stage_seconds",
                          "Compute time of one call of a pipeline stage (waits included).",
                          ["stage"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4))
STAGE_FAILURES = Counter("interpres_stage_failures",
                         "Pipeline stage calls that raised (that utterance lost that stage's "
                         "output).", ["stage"])
SKIPPED_INTERIMS = Counter("interpres_skipped_interim_decodes",
                           "Interim decodes skipped or dropped because recognition was behind.")


@dataclass
class StageTimes:
    """Compute seconds per stage, for real-time factors in summaries; the process-wide
    metrics get every call too."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # calls that raised, by stage
    skipped_interims: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.counts[stage] = self.counts.get(stage, 0) + 1
        STAGE_SECONDS.labels(stage).observe(seconds)

    def fail(self, stage: str) -> None:
        self.failures[stage] = self.failures.get(stage, 0) + 1
        STAGE_FAILURES.labels(stage).inc()

    def skip_interim(self) -> None:
        self.skipped_interims += 1
        SKIPPED_INTERIMS.inc()


class AudioBuffer:
    """Audio since some absolute sample index; old audio is trimmed as utterances end."""

    def __init__(self) -> None:
        self.start = 0
        self._chunks: list[np.ndarray] = []
        self.end = 0

    def append(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self.end += len(chunk)

    def slice(self, begin: int, end: int) -> np.ndarray:
        data = np.concatenate(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = [data] if len(data) else []
        begin = max(begin, self.start)
        return data[begin - self.start:max(begin, end) - self.start]

    def trim(self, keep_from: int) -> None:
        if keep_from <= self.start:
            return
        data = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        data = data[keep_from - self.start:]
        self._chunks = [data]
        self.start = keep_from


Output = Caption | Notice | FinalUtterance | Activity


@dataclass(eq=False)
class _InFlight:
    """An interim decode submitted and not yet turned into a caption."""

    utterance: Utterance
    task: asyncio.Future[Transcript]
    end: int  # the sample its audio ends at
    engine: WhisperEngine | None


class Recognizer:
    """Per-speaker state; `feed` returns the events produced by one batch of audio."""

    def __init__(self, speaker: Speaker, asr: WhisperEngine, workers: Workers,
                 options: RecognizerOptions, clock: Callable[[], float],
                 times: StageTimes, scheduler: RecognitionScheduler,
                 interim_asr: WhisperEngine | None = None,
                 wake: Callable[[], None] | None = None) -> None:
        """`wake` is called (on the loop) when an interim decode in flight is back, so the
        caller can `collect` it without waiting for more audio."""
        self.speaker = speaker
        self.wake = wake
        self._in_flight: _InFlight | None = None
        self.asr = asr
        self.interim_asr = interim_asr
        self.scheduler = scheduler
        self.workers = workers
        self.options = options
        self.clock = clock
        self.times = times
        self.vad = StreamingVad()
        self.segmenter = Segmenter(options.segmenter)
        self.language = options.tracker()
        self.buffer = AudioBuffer()
        self.utterance: Utterance | None = None
        self._count = 0
        # Segment ids must not repeat when a speaker's pipeline starts again (a bot that
        # rejoins Janus or is restarted on another node, a server restart with transcripts
        # on disk): pages ignore revisions of a segment they saw final, and the transcript
        # store would overwrite the earlier line.
        self._epoch = os.urandom(3).hex()
        # The end of what the speaker said before (finals), as the decoder's prompt.
        self._context = ""
        self._context_language: str | None = None
        # The leads of the speaker's last utterances (oldest first, see lead.chained), with
        # the prompt that goes before the oldest.
        self._leads: list[Lead] = []
        self._lead_context = ""

    @property
    def samples_in(self) -> int:
        return self.buffer.end

    async def feed(self, audio: np.ndarray, backlog: float = 0.0,
                   gap: bool = False) -> list[Output]:
        """Recognise one piece of audio. `gap`: the piece is silence standing for time when
        no audio arrived; the utterance then ends at its first pause, complete or not (the
        speaker's packets stopped: waiting for more words would only delay the final)."""
        out: list[Output] = self.collect()
        self.buffer.append(audio)
        started = time.perf_counter()
        if self.vad.cheap(audio):  # digital silence: no model run, no thread hop
            scores = self.vad.process(audio)
        else:
            scores = await self.workers.engine(self.vad.process, audio)
        self.times.add("vad", time.perf_counter() - started)
        for probability, loudness in scores:
            for boundary in self.segmenter.push(probability, loudness):
                sample = boundary.window * WINDOW
                if boundary.kind == "start":
                    self._count += 1
                    self.utterance = Utterance(self._count, sample, decoded_until=sample,
                                               language=self.options.language)
                    out.append(Activity(True, emitted_at=self.clock()))
                elif self.utterance is None:
                    continue
                elif boundary.kind == "pause":
                    if await self._at_pause(sample) or gap:
                        out += await self._close_now()
                elif boundary.kind == "resume":
                    self.utterance.speculative = None
                else:
                    out += await self._finish(boundary.kind == "end", sample)
                if boundary.kind in ("end", "drop") and self.utterance is None:
                    out.append(Activity(False, emitted_at=self.clock()))
        if gap and self.utterance is not None and self.segmenter.paused:
            out += await self._close_now()  # paused before the packets stopped
        if self.utterance is None:
            # Keep what a future utterance start may reach back to (pre-roll before the
            # first voiced window, which itself may be a few windows back).
            o = self.options.segmenter
            keep = (self.segmenter.index - o.start_windows) * WINDOW - int(o.pre_roll * RATE)
            self.buffer.trim(max(self.buffer.start, keep))
        elif backlog > self.options.max_backlog:
            self.times.skip_interim()
        elif self.segmenter.silence_seconds >= self.options.quiet_skip:
            pass  # the speaker paused: the pause decode is due soon, keep the ASR thread free
        else:
            out += await self._maybe_interim()
        return out

    def _remember(self, text: str, lang: str, lead: tuple[Lead | None, str] | None = None
                  ) -> None:
        """Keep the last CONTEXT_CHARS of the speaker's finals in one language as context,
        and the final's `lead` (from next_lead) for the next final decode."""
        if not text:
            return
        before = self._context if lang == self._context_language else ""
        self._context, self._context_language = _joined(before, text, lang), lang
        if lead is None:
            return
        newest, said_before = lead
        if newest is None or said_before or not self._leads or \
                self._leads[-1].language != newest.language:
            # Only part of this utterance is in its lead (or none, or in a new language):
            # the lead starts with it.
            self._leads = [newest] if newest is not None else []
            self._lead_context = _joined(before, said_before, lang)
            return
        # All of it is: the earlier utterances' leads go on before it, as far as fits.
        self._leads, older = within([*self._leads, newest], self.options.lead_seconds)
        self._lead_context = _joined(self._lead_context,
                                     join_units([lead.text for lead in older], lang), lang)

    def forget_context(self) -> None:
        """Decode the next utterance without what the speaker said before as its prompt."""
        self._context, self._context_language = "", None
        self._leads, self._lead_context = [], ""

    async def _close_now(self) -> list[Output]:
        out: list[Output] = []
        for closing in self.segmenter.close_now():
            out += await self._finish(True, closing.window * WINDOW)
        out.append(Activity(False, emitted_at=self.clock()))
        return out

    async def flush(self) -> list[Output]:
        out: list[Output] = []
        for boundary in self.segmenter.flush():
            if self.utterance is not None:
                out += await self._finish(boundary.kind == "end",
                                          min(boundary.window * WINDOW, self.buffer.end))
                out.append(Activity(False, emitted_at=self.clock()))
        return out

    # -- decodes --------------------------------------------------------------------------

    def _segment_id(self, utterance: Utterance) -> str:
        return f"{self.speaker.id}.{self._epoch}-{utterance.index}"

    async def _decode(self, stage: str, audio: np.ndarray, options: DecodeOptions,
                      engine: WhisperEngine | None = None) -> Transcript:
        """A decode through the process's recognition scheduler. Interims of a live speaker
        go stale after INTERIM_STALE (the scheduler drops them: `Dropped`); fed as fast as
        possible (`shed_load` off) nothing is stale."""
        started = time.perf_counter()
        interim = stage == "asr_interim"
        deadline = None
        if interim and not self.options.shed_load:
            deadline = math.inf
        try:
            return await self.scheduler.decode(
                engine or self.asr, audio, options, kind="interim" if interim else "final",
                speaker=self.speaker.id, deadline=deadline)
        finally:
            self.times.add(stage, time.perf_counter() - started)

    def _decode_language(self, utterance: Utterance) -> tuple[str | None, tuple[str, ...], bool]:
        """(language to force, allowed set, detect) for a decode of this utterance."""
        if utterance.language:
            return utterance.language, (), False
        return self.language.current, self._candidates(), True

    def _candidates(self) -> tuple[str, ...]:
        """Languages detection chooses among for this speaker. A preferred set (the room's
        languages) also holds the language this speaker has been speaking: a guest on
        "auto" in a room whose listeners want en and fr is still heard in Chinese, where
        otherwise each decode would have to be 0.9 sure of Chinese again."""
        allowed, current = self.options.allowed, self.language.current
        if allowed and not self.options.allowed_strict and current and current not in allowed:
            return (*allowed, current)
        return allowed

    def _gather_language(self, utterance: Utterance, transcript: Transcript) -> None:
        """Settle an interim's language early, so commits need not wait for the final.
        Provisional: the speaker's language is only updated at the final, once per
        utterance, on the detection over the whole of it (see _final_language)."""
        if utterance.language or not transcript.language_probs:
            return
        current = self.language.current
        if current and self.language.utterances_seen >= 1:
            # A speaker goes on in the language of their earlier utterances unless this
            # decode clearly hears another: commit in it now (a few seconds of Spanish can
            # still read as English). Should the whole utterance say otherwise, the final
            # replaces what was committed (see _finish).
            leader = max(transcript.language_probs, key=transcript.language_probs.__getitem__)
            if leader == current or transcript.language_probs[leader] < SWITCH_CLEARLY:
                utterance.language = current
                return
        if too_little_to_tell(transcript):
            return
        # Longer audio, more reliable detection: at 2 s the Spanish clip still looked
        # English (0.66), at 3 s it was Spanish (0.94); so later decodes weigh more.
        weight = transcript.duration ** 2
        for lang, p in transcript.language_probs.items():
            utterance.evidence[lang] = utterance.evidence.get(lang, 0.0) + p * weight
        if transcript.duration >= self.options.settle_language_after:
            total = sum(utterance.evidence.values()) or 1.0
            probs = {lang: p / total for lang, p in utterance.evidence.items()}
            if max(probs.values()) < SETTLE_SHARE:
                return  # still ambiguous: decide on more audio, at the latest at the final
            utterance.language = self.language.peek(probs, evidence_weight(transcript))

    def _final_language(self, transcript: Transcript) -> str:
        """The language of a whole utterance: the speaker's, unless detection over all of it
        says otherwise clearly enough for the tracker (hysteresis) to switch."""
        if self.options.language:
            return self.options.language
        if not self._counts_for_language(transcript):
            return self.language.current or transcript.language
        return self.language.peek(transcript.language_probs, evidence_weight(transcript))

    def _counts_for_language(self, transcript: Transcript) -> bool:
        """Whether an utterance may move an automatic speaker's language. "Yes.", a name,
        "4 5 6 7": detection on these is a coin toss (spoken digits came out Chinese), so
        they never flip it."""
        return bool(not self.options.language and transcript.language_probs and not (
            self.language.current and too_little_to_tell(transcript)))

    def _plan(self) -> LoadPlan:
        """The load-shedding ladder's choice now (live speakers; files are never shed)."""
        if self.options.shed_load:
            return self.scheduler.plan(self.options.interim_interval, self.options.interim_beam)
        return LoadPlan(self.options.interim_interval, self.options.interim_beam)

    async def _maybe_interim(self) -> list[Output]:
        utterance = self.utterance
        assert utterance is not None
        now = self.buffer.end
        length = (now - utterance.start) / RATE
        if length < self.options.first_interim or self._in_flight is not None:
            return []  # one interim at a time per speaker
        plan = self._plan()
        if (now - utterance.decoded_until) / RATE < plan.interval:
            return []
        utterance.decoded_until = now
        audio = self.buffer.slice(utterance.start, now)
        language, allowed, detect = self._decode_language(utterance)
        agreement = utterance.agreement
        prefix = agreement.committed_text if agreement else ""
        # An English-only model (tiny.en) is cheaper for interims once the language is
        # settled as English; the final decode always uses the main model.
        engine = self.interim_asr if self.interim_asr and utterance.language == "en" else None
        decode = self._decode("asr_interim", audio, DecodeOptions(
            language=language, allowed=allowed, prefix=prefix, detect=detect,
            allowed_strict=self.options.allowed_strict, beam_size=plan.beam,
            hotwords=hotwords(self.options.phrases), **self._prompt_for(utterance)), engine)
        flight = _InFlight(utterance, asyncio.ensure_future(decode), now, engine)
        if not self.options.shed_load:
            # Fed as fast as possible (files): wait for every interim, as a listener would
            # have seen it; the run stays deterministic.
            await asyncio.wait({flight.task})
            return self._interim_caption(flight)
        # Live: recognition goes on while the interim waits its turn, so a pause is noticed
        # and the final submitted at once (superseding the interim if it is still queued).
        self._in_flight = flight
        if self.wake is not None:
            flight.task.add_done_callback(lambda _: self.wake())  # type: ignore[misc]
        return []

    def collect(self) -> list[Output]:
        """The caption of the interim decode in flight, once it is back (live speakers)."""
        flight = self._in_flight
        if flight is None or not flight.task.done():
            return []
        self._in_flight = None
        return self._interim_caption(flight)

    def _interim_caption(self, flight: _InFlight) -> list[Output]:
        utterance = flight.utterance
        if utterance is not self.utterance or flight.task.cancelled():
            return []  # the utterance ended meanwhile: its final says it all
        error = flight.task.exception()
        if isinstance(error, Dropped):
            self.times.skip_interim()  # stale or superseded: the next one is due
            return []
        if error is not None:
            log.error("interim decode failed for %s", self.speaker.id, exc_info=error)
            self.times.fail("asr_interim")
            return []
        transcript = flight.task.result()
        length = (flight.end - utterance.start) / RATE
        self._gather_language(utterance, transcript)
        lang = transcript.language
        text = canonical(trim_doubled(trim_repetition(transcript.text)), self.options.phrases)
        if rejection(transcript, length, lang) in {"empty", "repetitive", "outro", "no-speech"}:
            return []
        if repeats_context(split_units(text, lang), self._context, lang):
            if utterance.fresh:  # decoded without the prompt: it is what was said
                utterance.said_again = True
            else:
                log.debug("interim of %s copies its prompt: %r", self.speaker.id, text[:200])
                utterance.fresh = True
                return []
        committed = ""
        shown = capitalized(text)
        if utterance.language == lang:
            # Commit only once the language is settled and this decode used it.
            if utterance.agreement is None:
                utterance.agreement = Agreement.with_votes(
                    lang, [earlier for language, earlier in utterance.unsettled
                           if language == lang])
            utterance.agreement.update(text)
            shown = capitalized(utterance.agreement.final_text(text))
            committed = capitalized(utterance.agreement.committed_text)
        elif utterance.agreement is None:
            utterance.unsettled.append((lang, text))
        shown = without_edge(shown, committed, lang)
        ended = open_ended(shown)
        if ended.startswith(committed):
            shown = ended
        utterance.rev += 1
        utterance.shown = True
        return [Caption(
            segment=self._segment_id(utterance), rev=utterance.rev, final=False,
            speaker=self.speaker, source_lang=lang, lang=lang, text=shown,
            committed=committed,
            t0=utterance.start / RATE, t1=flight.end / RATE,
            engine=f"whisper:{(flight.engine or self.asr).name}",
            emitted_at=self.clock(), language_settled=utterance.language == lang)]

    async def _final_decode(self, utterance: Utterance, audio: np.ndarray
                            ) -> tuple[Transcript, str]:
        """Final-quality decode; returns the transcript (with the language detection of the
        whole utterance) and the language it was decoded in."""
        auto = not self.options.language
        language = utterance.language or self.language.current if auto else self.options.language
        # No forced prefix: the final runs free with a wider beam, so greedy slips in the
        # interims don't propagate into the tail; Agreement.final_text keeps what was committed.
        options = DecodeOptions(language=language, allowed=self._candidates(), detect=auto,
                                allowed_strict=self.options.allowed_strict,
                                beam_size=self.options.final_beam, word_timestamps=True,
                                fallback=True, hotwords=hotwords(self.options.phrases),
                                context=self._context,
                                context_language=self._context_language)
        # The lead only where interims showed words: over noise, the lead's speech would
        # hide that the utterance itself has none (Whisper's no-speech probability). The
        # last rung of load shedding goes without it.
        plan = self._plan()
        # Under load only the last utterance's lead (the chain's earlier words: prompt).
        lead, left_out = chained(self._leads, language, len(audio), options.margin_frames,
                                 newest_only=not plan.chain) \
            if utterance.shown and plan.lead else (None, "")
        transcript = None
        if lead is not None:
            transcript = await self._decode("asr_final", audio, replace(
                options, lead=lead,
                context=_joined(self._lead_context, left_out, lead.language)))
            if transcript.language_probs and next(iter(transcript.language_probs)) != \
                    lead.language:
                # Detection hears another language in this utterance than in the lead: the
                # lead would pull its words into its own language (Portuguese came out as
                # short English translations, too short to move the speaker's language).
                transcript = None
        if transcript is None:
            transcript = await self._decode("asr_final", audio, options)
        elif stops_short(transcript, len(audio) / RATE):
            # Reading on from a long lead, the decode ended sentences early ("Printing in
            # the only sense." for 4 s more of it): the utterance on its own, if it reads on.
            alone = await self._decode("asr_final", audio, options)
            log.debug("final of %s stopped %.1f s short with its lead: %r; alone: %r",
                      self.speaker.id, len(audio) / RATE - transcript.words[-1].end,
                      transcript.text[-80:], alone.text[-80:])
            if alone.words and alone.words[-1].end > transcript.words[-1].end + STOPS_SHORT / 2:
                transcript = alone
        if options.context and self._misled(transcript, len(audio) / RATE,
                                            utterance.said_again):
            # As faster-whisper resets its prompt when a decode falls back: the prompt (and
            # the lead) pulled the decode away from the audio; read it on its own.
            log.debug("final of %s misled by its prompt: %r", self.speaker.id,
                      transcript.text[:200])
            options = replace(options, context="", context_language=None)
            transcript = await self._decode("asr_final", audio, options)
        return await self._final_overruled(transcript, audio, options)

    def _prompt_for(self, utterance: Utterance) -> dict:
        """The previous-text prompt of this utterance's interims (none once one copied it)."""
        if utterance.fresh:
            return {"context": "", "context_language": None}
        return {"context": self._context, "context_language": self._context_language}

    def _misled(self, transcript: Transcript, seconds: float, said_again: bool) -> bool:
        """Whether a decode with the speaker's earlier text as prompt copied that text out
        (unless interims without the prompt heard those words `said_again`), or looped
        (rejected as repetitive), rather than read the audio."""
        return (rejection(transcript, seconds, transcript.language) == "repetitive"
                or not said_again and repeats_context(
                    split_units(transcript.text, transcript.language), self._context,
                    transcript.language))

    async def _final_overruled(self, transcript: Transcript, audio: np.ndarray,
                               options: DecodeOptions) -> tuple[Transcript, str]:
        """The final decode again, in the language the whole utterance settles on when that
        is not the one it was decoded in."""
        decided = self._final_language(transcript)
        if decided != transcript.language:
            # Decoded in a provisional language that the whole utterance overruled.
            retry = await self._decode("asr_final", audio, replace(
                options, language=decided, detect=False))
            transcript = replace(retry, language_probs=transcript.language_probs)
        if self._first_and_unsure(transcript):
            transcript = await self._read_best(transcript, audio, options)
        return transcript, transcript.language

    def _first_and_unsure(self, transcript: Transcript) -> bool:
        """Whether this is the first utterance of an automatic speaker and detection over all
        of it does not clearly decide. The first utterance sets the speaker's language, and
        the tracker's hysteresis then holds it against later wrong detections."""
        probs = transcript.language_probs
        return (self.language.current is None and len(probs) > 1
                and self._counts_for_language(transcript)
                and next(iter(probs.values())) < UNSURE_FIRST and self._plan().lead)

    async def _read_best(self, transcript: Transcript, audio: np.ndarray,
                         options: DecodeOptions) -> Transcript:
        """The utterance decoded in the runner-up language too; the decode with the better
        average log-probability wins, and takes the leader's probability for the tracker.
        Reading a language into speech of another comes out as a translation or as
        nonsense, which the model is less sure of: on our material's utterances with the
        leader below 0.7 (8 of 101), this kept every right choice and fixed a Portuguese
        one detected as English (0.38 against 0.21; log-probabilities -1.02 against
        -0.40). The last rung of load shedding goes without it."""
        probs = transcript.language_probs
        runner_up = next(lang for lang in probs if lang != transcript.language)
        other = await self._decode("asr_final", audio, replace(
            options, language=runner_up, detect=False, lead=None))
        if other.avg_logprob <= transcript.avg_logprob:
            return transcript
        leader = next(iter(probs))
        swapped = {**probs, runner_up: probs[leader], leader: probs[runner_up]}
        return replace(other, language_probs=dict(
            sorted(swapped.items(), key=lambda kv: -kv[1])))

    def _final_text(self, agreement: Agreement, free: str, transcript: Transcript) -> str:
        """The final caption's text: the final decode's, with what interims committed kept
        where the final leaves it out or its reading is below `correction_prob` (see
        agreement.corrected)."""
        lang = agreement.lang
        units = split_units(free, lang)
        probs = unit_probabilities(units, [(w.text, w.probability) for w in transcript.words])
        if (not agreement.committed or probs is None
                or copies_context(units, self._context, lang, agreement.committed)):
            return agreement.final_text(free)
        return join_units(corrected(agreement.committed, units, probs,
                                    self.options.correction_prob), lang)

    async def _at_pause(self, end: int) -> bool:
        """Decode at a pause; True when the utterance reads as a finished sentence."""
        utterance = self.utterance
        assert utterance is not None
        audio = self.buffer.slice(utterance.start, end)
        try:
            transcript, _ = await self._final_decode(utterance, audio)
        except Exception:
            log.exception("pause decode failed for %s", self.speaker.id)
            self.times.fail("asr_final")
            return False
        utterance.speculative = (end, transcript, transcript.language)
        text = transcript.text.rstrip()
        # Whisper ends nearly every chunk with a period, so a short fragment ("And so my
        # fellow Americans.") is not trusted to be a whole sentence: it waits for the long
        # hangover, and a speaker who goes on is not cut into fragments that translate badly.
        long_enough = len(split_units(text, transcript.language)) >= (
            self.options.complete_units if transcript.language not in CHARACTER_SCRIPTS
            else 2 * self.options.complete_units)
        return long_enough and text.endswith(SENTENCE_ENDS)

    async def _finish(self, keep: bool, end: int) -> list[Output]:
        utterance = self.utterance
        assert utterance is not None
        self.utterance = None
        if self._in_flight is not None:  # its caption would come after the final
            self._in_flight.task.cancel()
            self._in_flight = None
        speech = (end - utterance.start) / RATE
        committed = utterance.agreement.committed_text if utterance.agreement else ""
        if not keep and not utterance.shown:
            return []
        audio = self.buffer.slice(utterance.start, end)
        text, words = committed, ()
        lead: tuple[Lead | None, str] | None = None
        lang = utterance.language or self.language.current or "en"
        notices: list[Output] = []
        if keep:
            try:
                if utterance.speculative and utterance.speculative[0] == end:
                    transcript = utterance.speculative[1]
                else:
                    transcript, _ = await self._final_decode(utterance, audio)
                lang = transcript.language
                if self._counts_for_language(transcript):  # once, on the whole utterance
                    self.language.observe(transcript.language_probs,
                                          evidence_weight(transcript))
                reason = rejection(transcript, speech, lang)
                if reason is None:
                    agreement = utterance.agreement
                    if agreement is None or agreement.lang != lang:
                        # Interims committed in a language the whole utterance overruled:
                        # those words were never right, the final replaces them.
                        agreement = Agreement(lang)
                    free = canonical(trim_doubled(trim_repetition(transcript.text)),
                                     self.options.phrases)
                    text = self._final_text(agreement, free, transcript)
                    lead = next_lead(transcript, audio, self.options.lead_seconds)
                    offset = utterance.start / RATE
                    words = tuple(Word(w.start + offset, w.end + offset, w.text, w.probability)
                                  for w in transcript.words)
                else:
                    log.debug("final of %s rejected: %s: %r", self.speaker.id, reason,
                              transcript.text[:300])
            except Exception as error:
                log.exception("final decode failed for %s", self.speaker.id)
                self.times.fail("asr_final")
                notices.append(Notice("warning", "asr-failed",
                                      f"recognition failed for one utterance: {error}",
                                      emitted_at=self.clock()))
        if not text and not utterance.shown:
            return notices
        text = as_sentence(text, lang)
        self._remember(text, lang, lead)
        caption = Caption(
            segment=self._segment_id(utterance), rev=utterance.rev + 1, final=True,
            speaker=self.speaker, source_lang=lang, lang=lang, text=text, committed=text,
            t0=utterance.start / RATE, t1=end / RATE, engine=f"whisper:{self.asr.name}",
            words=words, emitted_at=self.clock())
        return [*notices, FinalUtterance(caption, audio)]
