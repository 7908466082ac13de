"""Utterance segmentation from VAD probabilities: a pure state machine over 32 ms windows.

Speech starts when the VAD is confident and the window is louder than a floor (so a faint
background voice or hiss never opens an utterance). After `hangover` of silence the segmenter
reports a "pause": the recognizer decodes what was said and, if it reads as a finished
sentence, closes the utterance at once (`close_now`); otherwise the utterance stays open until
`long_hangover`, so a speaker who pauses mid-sentence is not cut into fragments that
translate badly.
Long monologues are split: after `soft_max` at the first real pause, and at `hard_max` at the
quietest point of the last seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW = 512  # samples at 16 kHz: Silero's frame
WINDOW_SECONDS = WINDOW / 16000


@dataclass(frozen=True)
class SegmenterOptions:
    """Attributes:
    threshold: VAD probability that counts as speech.
    neg_threshold: below this, silence (between the two, keep the current state).
    loudness_floor_db: windows quieter than this (dBFS RMS) never count as speech.
    start_windows: consecutive speech windows needed to open an utterance.
    hangover: seconds of silence before a "pause" is reported (an end if the text is complete).
    long_hangover: seconds of silence that always close an utterance.
    pre_roll: seconds of audio kept before the detected start (onsets are soft).
    min_speech: utterances with less speech than this are dropped (clicks, coughs).
    soft_max: after this many seconds, split at the first pause of `split_pause` seconds.
    hard_max: never let an utterance grow past this (Whisper's window is 30 s).
    split_search: at hard_max, cut at the quietest window of this many last seconds.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    loudness_floor_db: float = -55.0
    start_windows: int = 3
    hangover: float = 0.4
    long_hangover: float = 1.2
    pre_roll: float = 0.25
    min_speech: float = 0.3
    soft_max: float = 12.0
    split_pause: float = 0.15
    hard_max: float = 20.0
    split_search: float = 4.0


@dataclass(frozen=True)
class Boundary:
    """An utterance opened or closed, in window indices (window i covers samples
    [i*512, (i+1)*512))."""

    kind: str  # "start" | "end" | "drop" | "pause" | "resume"
    window: int
    reason: str = ""  # for ends: "silence" | "split" | "max" | "flush"


class Segmenter:
    def __init__(self, options: SegmenterOptions | None = None) -> None:
        self.options = options or SegmenterOptions()
        o = self.options
        self._hangover = max(1, round(o.hangover / WINDOW_SECONDS))
        self._long_hangover = max(self._hangover, round(o.long_hangover / WINDOW_SECONDS))
        self._pre_roll = round(o.pre_roll / WINDOW_SECONDS)
        self._min_speech = round(o.min_speech / WINDOW_SECONDS)
        self._soft_max = round(o.soft_max / WINDOW_SECONDS)
        self._hard_max = round(o.hard_max / WINDOW_SECONDS)
        self._split_pause = max(1, round(o.split_pause / WINDOW_SECONDS))
        self._split_search = round(o.split_search / WINDOW_SECONDS)
        self.index = 0  # next window index
        self.in_speech = False
        self.start = 0
        self._run = 0  # consecutive speech windows while idle
        self._silence = 0  # consecutive silent windows while in speech
        self._paused = False  # a "pause" was reported and no voiced window came since
        self._speech_windows = 0
        self._last_voiced = 0
        self._quietest = (2.0, 0)  # (probability, window) in the split search range

    def push(self, probability: float, loudness_db: float) -> list[Boundary]:
        o = self.options
        i = self.index
        self.index += 1
        voiced = probability >= o.threshold and loudness_db >= o.loudness_floor_db
        silent = probability < o.neg_threshold or loudness_db < o.loudness_floor_db
        if not self.in_speech:
            self._run = self._run + 1 if voiced else 0
            if self._run >= o.start_windows:
                first = i - o.start_windows + 1
                return self._open(max(0, first - self._pre_roll), first)
            return []

        events: list[Boundary] = []
        length = i - self.start + 1
        if voiced:
            self._speech_windows += 1
            self._last_voiced = i
            if self._paused:
                # Not `_silence >= hangover`: an in-between window after the pause resets the
                # silence count, and the speech that follows must still be reported.
                events.append(Boundary("resume", i))
                self._paused = False
        self._silence = self._silence + 1 if silent else 0
        # The hard split looks for the quietest window in the last `split_search` seconds.
        if length > self._hard_max - self._split_search and probability < self._quietest[0]:
            self._quietest = (probability, i)

        if self._silence >= self._long_hangover:
            events += self._close(self.speech_end, "silence", i + 1)
        elif self._silence == self._hangover:
            events.append(Boundary("pause", self.speech_end))
            self._paused = True
        elif length >= self._soft_max and self._silence >= self._split_pause:
            events += self._close(i + 1, "split", i + 1)
        elif length >= self._hard_max:
            cut = self._quietest[1] if self._quietest[1] > self.start else i
            events += self._close(cut + 1, "max", i + 1)
            # The words after the cut are still being spoken: continue at once.
            events += self._open(cut + 1, cut + 1)
            self._speech_windows = i - cut
        return events

    @property
    def paused(self) -> bool:
        """A pause was reported and no speech came since."""
        return self.in_speech and self._paused

    @property
    def silence_seconds(self) -> float:
        """Silence so far at the end of the current utterance."""
        return self._silence * WINDOW_SECONDS if self.in_speech else 0.0

    @property
    def speech_end(self) -> int:
        """Where the current utterance would end: after the last voiced window, plus a pad."""
        return min(self._last_voiced + 1 + self._pre_roll // 2, self.index)

    def close_now(self) -> list[Boundary]:
        """End the current utterance at its last speech (the recognizer found it complete)."""
        if not self.in_speech:
            return []
        return self._close(self.speech_end, "pause", self.index)

    def flush(self) -> list[Boundary]:
        if not self.in_speech:
            return []
        return self._close(self.index, "flush", self.index)

    def _open(self, start: int, first_voiced: int) -> list[Boundary]:
        self.in_speech = True
        self.start = start
        self._silence = 0
        self._paused = False
        self._speech_windows = self.index - first_voiced
        self._last_voiced = self.index - 1
        self._quietest = (2.0, 0)
        self._run = 0
        return [Boundary("start", start)]

    def _close(self, end: int, reason: str, now: int) -> list[Boundary]:
        self.in_speech = False
        self._run = 0
        end = min(end, now)
        kind = "end" if self._speech_windows >= self._min_speech else "drop"
        return [Boundary(kind, end, reason)]
