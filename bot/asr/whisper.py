"""Whisper through CTranslate2, with an encoder window cut to the utterance.

faster-whisper's `transcribe()` always pads to a 30 s window, so one decode costs ~0.6 s on
two cores whatever the audio length. Padding the log-mel features only to the utterance
length (plus a margin) makes the encoder 5-8 times cheaper with the same words on the shared
clips (measured: 0.05-0.14 s instead of 0.5-0.8 s), which is what makes streaming re-decodes
affordable. We still use faster-whisper's model loading, feature extractor, tokenizer and
word alignment, so any faster-whisper model directory works.
"""

from __future__ import annotations

import logging
import os
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import merge_punctuations

from bot.events import Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # log-mel frames
MAX_FRAMES = 3000  # Whisper's 30 s window
WINDOW_STEP = 100  # encoder windows are whole seconds (even, as the convolution halves it)
# faster-whisper's defaults for attaching punctuation to words.
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"

# Previous-text prompts that steer the script or style of a language. Whisper writes Mandarin
# in traditional characters about as often as simplified; a simplified prompt makes it write
# simplified, which most readers of Mandarin expect.
LANGUAGE_PROMPTS: dict[str, str] = {"zh": "以下是普通话的句子。"}
# With a preferred (not strict) set of languages, one outside it is still chosen at this
# probability: a guest nobody declared speaks German in a room of English and French.
OUTSIDE_CERTAIN = 0.9
# A decode with a lead (see Lead) needs detection on the utterance alone. Read first from the
# encoder output where the utterance starts, it is trusted when at least this sure of the
# lead's language: on our material (117 utterances after a lead in their own language or in
# another), a lead in another language never got more than 0.12 there, and every utterance
# that the separate encoding heard in another language than its lead stayed below 0.9.
LEAD_LANGUAGE_SURE = 0.9


# Silence put between a lead (see Lead) and the utterance: the pause between them, shortened.
LEAD_GAP_SAMPLES = SAMPLE_RATE * 3 // 10


@dataclass(frozen=True, eq=False)
class Lead:
    """The end of what the speaker said just before, with its audio (16 kHz float32).

    A decode with a lead hears that audio first and reads on from its text (forced as the
    output's prefix), as an offline decode of the whole talk does; the transcript returned
    is of the new audio alone. A phrase split over two utterances, a name said before, an
    espeak-ng voice heard for a few seconds: the words after them come out better (finals
    of our conversational material cut at its utterance boundaries: 24.6 -> 14.6 % WER with
    6 s of lead, offline 16.1 %). Its text is forced one decoder step at a time (CTranslate2
    prefills only the prompt before the start-of-transcript sequence), so a longer lead costs
    decode time about in proportion: 0.21 / 0.39 / 0.78 / 1.33 s for 0 / 6 / 12 / 20 s."""

    audio: np.ndarray
    text: str
    language: str

    @property
    def samples(self) -> int:
        """What the lead adds in front of the utterance, its gap included."""
        return len(self.audio) + LEAD_GAP_SAMPLES if len(self.audio) else 0


@dataclass(frozen=True)
class DecodeOptions:
    """How one decode runs.

    Attributes:
      language: ISO 639-1 code to force, or None to detect within `allowed`.
      allowed: languages detection may choose from (empty: any the model knows).
      allowed_strict: False makes `allowed` a preference: another language is still chosen
        when detection is near certain of it (OUTSIDE_CERTAIN).
      task: "transcribe" or "translate" (Whisper's own speech -> English).
      beam_size: 1 for greedy (interims), 5 for finals.
      prefix: text forced at the start of the output (the committed words).
      word_timestamps: align words to audio (finals only: it costs a second decoder pass).
      max_new_tokens: token budget; None means proportional to the audio length, which stops
        a hallucinated repetition early instead of running to 448 tokens.
      detect: return language probabilities even when `language` is forced (one cheap pass
        over the encoder output).
      fallback: retry once with sampling when the output looks like a hallucination.
      hotwords: names and terms to prefer (a room's phrase list, "Karvonix, Zorvatek."):
        put in Whisper's previous-text prompt before `context`, as faster-whisper does.
      context: what the speaker said just before, in `context_language`: Whisper's previous-
        text prompt, used when the decode is in that language. A phrase cut in two by a
        pause reads on from its first half instead of starting cold.
      lead: what the speaker said just before and its audio, heard first (see Lead); used
        only when the decode is in the lead's language.
      margin_frames: silence padded after the audio in the encoder window. With less than
        ~4 s, partial utterances cut mid-word loop ("and so my fellow Americans and so my
        fellow..."); 400 frames removed every loop on the shared clips at ~0.2 s a decode.
    """

    language: str | None = None
    allowed: tuple[str, ...] = ()
    allowed_strict: bool = True
    task: str = "transcribe"
    beam_size: int = 1
    prefix: str = ""
    word_timestamps: bool = False
    max_new_tokens: int | None = None
    fallback: bool = False
    margin_frames: int = 400
    detect: bool = False
    hotwords: str = ""
    context: str = ""
    context_language: str | None = None
    lead: Lead | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probs: dict[str, float] = field(default_factory=dict)
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    duration: float = 0.0


def encoder_window(num_frames: int, margin_frames: int) -> int:
    """Frames of the encoder window for `num_frames` of audio: rounded up to whole
    WINDOW_STEP frames (1 s), so the encoder sees at most 30 shapes. With any even length,
    as before, CTranslate2's CPU backend kept memory per shape it had seen: a live room grew
    35 MB a minute and never stopped. Whole seconds also make equal windows, hence batches,
    common."""
    return min(MAX_FRAMES, -(-(num_frames + margin_frames) // WINDOW_STEP) * WINDOW_STEP)


def frame_count(samples: int) -> int:
    """Log-mel frames the feature extractor makes of `samples` (10 ms hops, centred: one
    more than whole hops), at most Whisper's window."""
    return min(samples // (SAMPLE_RATE // FRAMES_PER_SECOND) + 1, MAX_FRAMES)


def heard(audio: np.ndarray, options: DecodeOptions) -> np.ndarray:
    """The audio the encoder hears: the lead's first, when the decode uses one."""
    lead = options.lead
    if lead is None or len(lead.audio) == 0:
        return audio
    gap = np.zeros(LEAD_GAP_SAMPLES, np.float32)
    return np.concatenate([lead.audio.astype(np.float32, copy=False), gap, audio])


def batch_key(audio: np.ndarray, options: DecodeOptions) -> tuple:
    """Decodes with equal keys can share one CTranslate2 call: the same encoder window, task
    and beam. The window is the one `_features` pads to, so equal keys stack."""
    samples = len(audio) + (options.lead.samples if options.lead is not None else 0)
    return (encoder_window(frame_count(samples), options.margin_frames), options.task,
            options.beam_size)


def filter_languages(probs: dict[str, float], allowed: tuple[str, ...],
                     strict: bool = True) -> dict[str, float]:
    """Detection probabilities restricted to `allowed` (renormalised), most likely first;
    with `strict` False a language outside it stays when detection is near certain."""
    if allowed:
        top = max(probs, key=probs.__getitem__)
        kept = {lang: probs.get(lang, 0.0) for lang in allowed}
        if not strict and probs[top] >= OUTSIDE_CERTAIN:
            kept[top] = probs[top]
        total = sum(kept.values()) or 1.0
        probs = {lang: p / total for lang, p in kept.items()}
    return dict(sorted(probs.items(), key=lambda kv: -kv[1]))


def detected_probs(pairs: list[tuple[str, float]], allowed: tuple[str, ...],
                   strict: bool = True) -> dict[str, float]:
    """CTranslate2's detection ("<|es|>", p) pairs as filter_languages' probabilities."""
    return filter_languages({token[2:-2]: p for token, p in pairs}, allowed, strict)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 1.0


class WhisperEngine:
    """One loaded Whisper model. Up to `workers` decodes run at once (CTranslate2 workers
    sharing the weights), each with `cpu_threads` threads (0: CTranslate2's default, every
    core); more callers wait their turn.

    With `background_nice`, a second copy of the model serves the decodes asked for in the
    background (`transcribe_batch(..., background=True)`: interims), one at a time, on
    CTranslate2 threads at that nice value. On a CPU that is full, the finals' threads then
    get the cores first: a final beside continuous interims and half a core of other work
    took 0.35 s instead of 0.43 s (0.29 s alone), and the interims slowed from 5.6 to 4.0 a
    second, which is what shedding them should do anyway. It costs the weights twice."""

    def __init__(self, model_dir: str | Path, device: str = "cpu", compute_type: str = "int8",
                 cpu_threads: int = 0, name: str | None = None, workers: int = 1,
                 background_nice: int | None = None) -> None:
        self.name = name or Path(model_dir).name

        def load(count: int) -> WhisperModel:
            return WhisperModel(str(model_dir), device=device, compute_type=compute_type,
                                cpu_threads=cpu_threads, num_workers=count)

        self._model = load(workers)
        self.multilingual = self._model.model.is_multilingual
        self.languages = tuple(self._model.supported_languages)
        self.device = device
        self.workers = workers
        self._lock = threading.BoundedSemaphore(workers)
        self._background = _niced(lambda: load(1), background_nice) \
            if background_nice is not None else None
        self._background_lock = threading.Lock()
        self._eot = self._model.hf_tokenizer.token_to_id("<|endoftext|>")

    # -- public ---------------------------------------------------------------------------

    def transcribe(self, audio: np.ndarray, options: DecodeOptions,
                   background: bool = False) -> Transcript:
        """Decode one utterance (16 kHz mono float32, at most 30 s)."""
        result = self.transcribe_batch([(audio, options)], background)[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def transcribe_batch(self, items: list[tuple[np.ndarray, DecodeOptions]],
                         background: bool = False) -> list[Transcript | BaseException]:
        """Decode several utterances with one encoder call and one decoder call per group
        of equal prompt layout. Items must share `batch_key`. A failure in one item's own
        steps (features, prompt, fallback, alignment) is returned in its place; a failure
        of a batched call raises (the caller retries the items one by one). `background`:
        on the niced copy, if the engine has one."""
        keys = {batch_key(audio, options) for audio, options in items}
        if len(keys) != 1:
            raise ValueError(f"items of one batch must share a batch key, got {keys}")
        if background and self._background is not None:
            with self._background_lock:
                return self._transcribe_batch(items, self._background)
        with self._lock:
            return self._transcribe_batch(items, self._model)

    def detect_language(self, audio: np.ndarray, allowed: tuple[str, ...] = ()) -> dict[str, float]:
        with self._lock:
            encoder_output, _ = self._encode(self._model, audio, margin_frames=100)
            return self._language_probs(self._model, encoder_output, allowed)

    def warm_up(self) -> None:
        """One decode of noise, so the first real utterance doesn't pay for lazy init."""
        noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
        options = DecodeOptions(language="en" if not self.multilingual else None,
                                max_new_tokens=4)
        self.transcribe(noise, options)
        if self._background is not None:
            self.transcribe(noise, options, background=True)

    # -- internals ------------------------------------------------------------------------

    def _features(self, audio: np.ndarray, margin_frames: int) -> tuple[np.ndarray, int]:
        features = self._model.feature_extractor(audio)
        # The window follows from the sample count alone, as in `batch_key`, so that items
        # of one batch always stack.
        window = encoder_window(frame_count(len(audio)), margin_frames)
        num_frames = min(features.shape[-1], window)
        padded = np.zeros((features.shape[0], window), dtype=np.float32)
        padded[:, :num_frames] = features[:, :num_frames]
        return padded, num_frames

    def _encode(self, model: WhisperModel, audio: np.ndarray, margin_frames: int
                ) -> tuple[ctranslate2.StorageView, int]:
        padded, num_frames = self._features(audio, margin_frames)
        storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None]))
        return model.model.encode(storage, to_cpu=False), num_frames

    def _language_probs(self, model: WhisperModel, encoder_output: ctranslate2.StorageView,
                        allowed: tuple[str, ...], strict: bool = True) -> dict[str, float]:
        if not self.multilingual:
            return {"en": 1.0}
        return detected_probs(model.model.detect_language(encoder_output)[0], allowed, strict)

    def _detect_after_lead(self, model: WhisperModel, encoded: np.ndarray | None,
                           audio: np.ndarray, options: DecodeOptions) -> list:
        """Detection on the utterance of a decode with a lead: over the whole window the
        lead would outvote it. The encoder output from where the utterance starts is read
        first (one decoder step); when that is near certain of the lead's language, the
        speaker went on in it. Otherwise, or without the encoder output in host memory, the
        utterance is encoded alone, in the window it would have without a lead (the margin
        moves detection), which cost a sixth of a final decode with a lead."""
        lead = options.lead
        assert lead is not None
        if encoded is not None:
            start = lead.samples * FRAMES_PER_SECOND // SAMPLE_RATE // 2  # encoder stride 2
            pairs = model.model.detect_language(ctranslate2.StorageView.from_array(
                np.ascontiguousarray(encoded[None, start:])))[0]
            probs = detected_probs(pairs, options.allowed, options.allowed_strict)
            if probs.get(lead.language, 0.0) >= LEAD_LANGUAGE_SURE:
                return pairs
        alone, _ = self._encode(model, audio, options.margin_frames)
        return model.model.detect_language(alone)[0]

    def _prompt(self, language: str, options: DecodeOptions
                ) -> tuple[Tokenizer, list[int], int]:
        """The decoder's prompt, and how many of its forced tokens are the lead's text."""
        tokenizer = Tokenizer(self._model.hf_tokenizer, self.multilingual, task=options.task,
                              language=language if self.multilingual else None)
        prefix = options.prefix.strip()
        prefix_tokens = tokenizer.encode(" " + prefix) if prefix else []
        lead = options.lead.text.strip() if options.lead is not None else ""
        lead_tokens = tokenizer.encode(" " + lead) if lead else []
        transcribing = options.task == "transcribe"
        previous = LANGUAGE_PROMPTS.get(language, "") if transcribing else ""
        previous = (previous + " " + options.hotwords).strip()
        if transcribing and options.context and options.context_language == language:
            previous = (previous + " " + options.context).strip()
        context = [tokenizer.sot_prev, *tokenizer.encode(" " + previous)] if previous else []
        return tokenizer, [*context, *tokenizer.sot_sequence, tokenizer.no_timestamps,
                           *lead_tokens, *prefix_tokens], len(lead_tokens)

    def _transcribe_batch(self, items: list[tuple[np.ndarray, DecodeOptions]],
                          model: WhisperModel) -> list[Transcript | BaseException]:
        count = len(items)
        results: list[Transcript | BaseException | None] = [None] * count
        prepared: dict[int, tuple[np.ndarray, int]] = {}
        for i, (audio, options) in enumerate(items):
            try:
                if options.lead is not None and options.language is None:
                    raise ValueError("a decode with a lead needs its language")
                prepared[i] = self._features(heard(audio, options), options.margin_frames)
            except Exception as error:  # noqa: BLE001 - one item's failure is its own
                results[i] = error
        live = sorted(prepared)
        if not live:
            return results  # type: ignore[return-value]
        features = np.stack([prepared[i][0] for i in live])
        # One item: keep the encoder output where it is. Several: bring it to host memory,
        # so items can be regrouped (decoder calls) and sliced (alignment, fallback).
        many = len(live) > 1
        encoded = model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features)),
            to_cpu=many and self.device != "cpu")
        host = np.asarray(encoded) if many else None

        def output(rows: list[int]) -> ctranslate2.StorageView:
            if host is None:
                return encoded
            return ctranslate2.StorageView.from_array(np.ascontiguousarray(host[rows]))

        detected: dict[int, list] = {}
        if self.multilingual and any(items[i][1].language is None or items[i][1].detect
                                     for i in live):
            for row, pairs in enumerate(model.model.detect_language(encoded)):
                detected[live[row]] = pairs
            # Each row's encoder output in host memory (a view on a CPU), for detection
            # after a lead; None where it is on a GPU.
            rows = host if host is not None else (
                np.asarray(encoded) if self.device == "cpu" else None)
            for row, i in enumerate(live):
                audio, options = items[i]
                if options.lead is not None and options.detect:
                    detected[i] = self._detect_after_lead(
                        model, None if rows is None else rows[row], audio, options)
        plans: dict[int, tuple] = {}
        for row, i in enumerate(live):
            audio, options = items[i]
            try:
                language_probs: dict[str, float] = {}
                language = options.language
                if not self.multilingual:
                    language = "en"
                elif language is None or options.detect:
                    language_probs = detected_probs(detected[i], options.allowed,
                                                    options.allowed_strict)
                    language = language or next(iter(language_probs))
                tokenizer, prompt, led = self._prompt(language, options)
                duration = len(audio) / SAMPLE_RATE
                # Forced lead tokens are generated tokens to CTranslate2: they get room too.
                budget = (options.max_new_tokens or int(8 * duration) + 10) + led
                plans[i] = (row, language, language_probs, tokenizer, prompt, budget, duration,
                            led)
            except Exception as error:  # noqa: BLE001
                results[i] = error
        # CTranslate2 needs <|startoftranscript|> at one position in a decoder batch: items
        # are grouped by the length of their previous-text prompt.
        groups: dict[int, list[int]] = {}
        for i, plan in plans.items():
            prompt = plan[4]
            groups.setdefault(prompt.index(plan[3].sot), []).append(i)
        beam = items[live[0]][1].beam_size
        for members in groups.values():
            rows = [plans[i][0] for i in members]
            prompts = [plans[i][4] for i in members]
            max_length = min(448, max(len(plans[i][4]) + plans[i][5] for i in members))
            generated = self._generate_batch(model, output(rows), prompts, beam, max_length,
                                             0.0)
            for i, (result, tokens, avg_logprob) in zip(members, generated, strict=True):
                row, language, language_probs, tokenizer, prompt, budget, duration, led = \
                    plans[i]
                options = items[i][1]
                try:
                    # A longer batch-wide max_length: this item stops at its own budget.
                    tokens = tokens[:len(prompt) - prompt.index(tokenizer.no_timestamps) - 1
                                    + budget]
                    mine = output([row])
                    text = tokenizer.decode(tokens[led:]).strip()  # the new audio's own
                    ratio = compression_ratio(text)
                    if options.fallback and (ratio > 2.4 or avg_logprob < -1.0):
                        retry = self._generate_batch(model, mine, [prompt], 1,
                                                     min(448, len(prompt) + budget), 0.4)[0]
                        retry_text = tokenizer.decode(retry[1][led:]).strip()
                        if compression_ratio(retry_text) < ratio and retry[2] > avg_logprob:
                            result, tokens, avg_logprob = retry
                            text, ratio = retry_text, compression_ratio(retry_text)
                    words: tuple[Word, ...] = ()
                    if options.word_timestamps and tokens[led:]:
                        lead = options.lead
                        words = self._align(model, tokenizer, tokens, mine, prepared[i][1], led,
                                            lead.samples / SAMPLE_RATE if lead else 0.0)
                    results[i] = Transcript(
                        text=text, language=language, language_probs=language_probs,
                        words=words, avg_logprob=avg_logprob,
                        no_speech_prob=float(result.no_speech_prob),
                        compression_ratio=ratio, duration=duration)
                except Exception as error:  # noqa: BLE001
                    results[i] = error
        return results  # type: ignore[return-value]

    def _generate_batch(self, model: WhisperModel, encoder_output: ctranslate2.StorageView,
                        prompts: list[list[int]], beam_size: int, max_length: int,
                        temperature: float) -> list[tuple]:
        kwargs: dict = {"beam_size": beam_size}
        if temperature > 0:
            kwargs = {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": temperature}
        results = model.model.generate(
            encoder_output, prompts, max_length=max_length, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1],
            repetition_penalty=1.0, **kwargs,
        )
        out = []
        for result in results:
            # The result includes the forced prefix but not the start-of-transcript
            # sequence; special and timestamp tokens all sort after end-of-text.
            tokens = [t for t in result.sequences_ids[0] if t < self._eot]
            seq_len = len(result.sequences_ids[0])
            avg_logprob = result.scores[0] * seq_len / (seq_len + 1) if result.scores else 0.0
            out.append((result, tokens, float(avg_logprob)))
        return out

    def _align(self, model: WhisperModel, tokenizer: Tokenizer, tokens: list[int],
               encoder_output: ctranslate2.StorageView, num_frames: int, led: int = 0,
               shift: float = 0.0) -> tuple[Word, ...]:
        """Words with times; the first `led` tokens (a lead's text) are aligned with the
        rest but not returned, and times are moved back by `shift` (the lead's audio)."""
        alignment = model.find_alignment(tokenizer, [tokens], encoder_output, num_frames)
        if alignment:
            # Attach punctuation to its word, as faster-whisper does ("blanquecinas,").
            merge_punctuations(alignment[0], PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        words, seen = [], 0
        for item in alignment[0] if alignment else []:
            text, first = item["word"], seen
            seen += len(item["tokens"])
            if not text.strip() or first < led:
                continue
            words.append(Word(start=round(max(0.0, float(item["start"]) - shift), 2),
                              end=round(max(0.0, float(item["end"]) - shift), 2),
                              text=text.strip(), probability=float(item["probability"])))
        return tuple(words)


def _niced(make, nice: int):
    """`make()` run on a thread at `nice` (Linux: a thread's niceness is its own, and the
    threads it starts, CTranslate2's workers, inherit it)."""
    made: list = []

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (AttributeError, OSError) as error:  # not Linux, or not allowed
            log.warning("background decodes run at normal priority: %s", error)
        try:
            made.append(make())
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            made.append(error)

    thread = threading.Thread(target=run, name="interpres-asr-background-load")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]
