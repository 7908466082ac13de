"""What a headless participant's microphone sends: a clip, a file, or nothing."""

from __future__ import annotations

import time
from os import PathLike

import numpy as np

from bot.audio_io import read_audio
from bot.rtc.tracks import FRAME, PacedTrack
from bot.tts.resample import to_int16_48k


class ClipTrack(PacedTrack):
    """Plays 48 kHz mono int16 samples in real time after `delay` seconds, then, by
    `after`: "silence" (frames of it, as a browser microphone sends), "nothing" (no packet at
    all, as Opus DTX or a stalled sender) or "end" (the track ends, as a file player's does).
    With no samples it is a microphone that never speaks."""

    HANGOVER = 0  # with `after="nothing"`, not one packet follows the clip

    def __init__(self, samples: np.ndarray | None = None, delay: float = 0.5,
                 after: str = "silence") -> None:
        super().__init__()
        if after not in ("silence", "nothing", "end"):
            raise ValueError('after must be "silence", "nothing" or "end"')
        self.samples = samples if samples is not None else np.zeros(0, np.int16)
        self.delay_frames = int(delay * 50)
        self.after = after
        self.position = 0
        self.frames = 0
        self.started_at: float | None = None  # monotonic time of the clip's first frame
        self.ended_at: float | None = None  # ... and of its last

    @classmethod
    def from_file(cls, path: str | PathLike[str], delay: float = 0.5,
                  after: str = "silence") -> ClipTrack:
        """Any audio file FFmpeg reads (WAV, MP3, Opus, a video's sound track...)."""
        return cls(to_int16_48k(read_audio(path), 16000), delay, after)

    @property
    def done(self) -> bool:
        return self.ended_at is not None

    def next_samples(self) -> np.ndarray | None:
        self.frames += 1
        if self.frames <= self.delay_frames:
            return np.zeros(FRAME, np.int16)
        if self.position >= len(self.samples):
            if self.after == "end":
                self.stop()
            return None if self.after != "silence" else np.zeros(FRAME, np.int16)
        if self.started_at is None:
            self.started_at = time.monotonic()
        chunk = self.samples[self.position:self.position + FRAME]
        self.position += FRAME
        if self.position >= len(self.samples):
            self.ended_at = time.monotonic()
        return np.pad(chunk, (0, FRAME - len(chunk)))
