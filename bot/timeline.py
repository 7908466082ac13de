"""Place synthesized clips on one language's timeline, for the file CLI's audio output.

Clips that overlap (the interpretation of one segment still speaking when the next starts)
are summed, not cut: in a file nothing is dropped, unlike the live outbound queue.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Mixing happens block by block: an int32 buffer for an hour at 48 kHz would be ~700 MB.
_BLOCK_SAMPLES = 1 << 20


def render_timeline(
    clips: Iterable[tuple[float, np.ndarray]], duration: float, sample_rate: int = 48000
) -> np.ndarray:
    """Mix int16 mono `clips` at their start times (seconds) into one int16 mono track.

    The track lasts `duration` seconds, or longer if a clip ends later. Overlaps are summed
    in int32 and then clipped to the int16 range; negative starts are placed at 0.
    """
    placed: list[tuple[int, np.ndarray]] = []
    for start, samples in clips:
        samples = np.asarray(samples)
        assert samples.dtype == np.int16 and samples.ndim == 1, (
            f"clips must be int16 mono, got {samples.dtype} with shape {samples.shape}"
        )
        placed.append((max(0, round(start * sample_rate)), samples))
    length = max([max(0, round(duration * sample_rate))] + [at + len(s) for at, s in placed])
    track = np.zeros(length, dtype=np.int16)
    for block_start in range(0, length, _BLOCK_SAMPLES):
        block_end = min(block_start + _BLOCK_SAMPLES, length)
        mix = np.zeros(block_end - block_start, dtype=np.int32)
        for at, samples in placed:
            lo, hi = max(at, block_start), min(at + len(samples), block_end)
            if lo < hi:
                mix[lo - block_start : hi - block_start] += samples[lo - at : hi - at]
        track[block_start:block_end] = np.clip(mix, -32768, 32767)
    return track
