"""The one interface every speech synthesizer sits behind."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SynthesisError(RuntimeError):
    """One utterance could not be spoken; the caller drops its audio, never the session."""


class Voice(Protocol):
    name: str  # engine-prefixed, e.g. "piper:en_US-joe-medium", "espeak-ng:fr"
    lang: str  # ISO 639-1
    sample_rate: int

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        """Float32 mono samples in [-1, 1] at `sample_rate`; empty text gives an empty array.

        Synchronous and thread-safe: bot/workers.py calls it from a pool thread.
        `speed` > 1 speaks faster (the speech queue uses it to catch up).
        Raises SynthesisError.
        """
        ...
