"""The one event vocabulary of the pipeline; the wire format is derived here and nowhere else.

A speaker's pipeline yields these events; the room (or the file CLI) turns them into
data-channel messages, audio frames or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Speaker:
    id: str
    name: str


@dataclass(frozen=True)
class Word:
    """A recognised word with its time on the speaker's timeline (seconds)."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Caption:
    """One revision of one segment in one language.

    A later caption with the same `segment` and `lang` replaces the text; `final` freezes it.
    `committed` is a prefix of `text` that will never change in later revisions.
    """

    segment: str
    rev: int
    final: bool
    speaker: Speaker
    source_lang: str
    lang: str
    text: str
    committed: str
    t0: float
    t1: float
    engine: str
    words: tuple[Word, ...] = ()
    # Seconds of input audio elapsed when the event was emitted (the file CLI's clock).
    emitted_at: float | None = None
    # False while automatic detection has not settled the utterance's language (an interim
    # in a provisional language is not worth translating). Not on the wire.
    language_settled: bool = True

    @property
    def is_source(self) -> bool:
        return self.lang == self.source_lang

    def to_wire(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "caption",
            "v": PROTOCOL_VERSION,
            "segment": self.segment,
            "rev": self.rev,
            "final": self.final,
            "speaker": {"id": self.speaker.id, "name": self.speaker.name},
            "source_lang": self.source_lang,
            "lang": self.lang,
            "text": self.text,
            "committed": self.committed,
            "t0": round(self.t0, 2),
            "t1": round(self.t1, 2),
            "engine": self.engine,
        }
        if self.words:
            message["words"] = [
                {"start": round(w.start, 2), "end": round(w.end, 2), "text": w.text,
                 "p": round(w.probability, 3)}
                for w in self.words
            ]
        if self.emitted_at is not None:
            message["emitted_at"] = round(self.emitted_at, 3)
        return message


@dataclass(frozen=True)
class SpeechAudio:
    """Synthesized interpretation of one final caption, ready for a language's outbound track.

    `samples` are mono int16 at `sample_rate` (48 kHz for WebRTC). `t0` is where the source
    segment started on the speaker's timeline, so a file writer can place it.
    """

    segment: str
    lang: str
    text: str
    samples: np.ndarray = field(repr=False)
    sample_rate: int
    t0: float
    voice: str
    speed: float = 1.0
    emitted_at: float | None = None
    # When the listener hears it: the language track's schedule (after earlier clips).
    play_at: float | None = None
    # The profanity settings of the listeners this clip is for (one clip per distinct text).
    profanity: tuple[str, ...] = ("raw", "masked", "removed")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Notice:
    """Something a person should know: an engine failed for one utterance, audio was dropped."""

    level: str  # "info" | "warning" | "error"
    code: str
    text: str
    emitted_at: float | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"type": "notice", "v": PROTOCOL_VERSION, "level": self.level,
                "code": self.code, "text": self.text}


@dataclass(frozen=True)
class Activity:
    """The speaker started or stopped speaking (VAD), for speaking indicators."""

    speaking: bool
    emitted_at: float | None = None


Event = Caption | SpeechAudio | Notice | Activity
