"""Synthesized speech (any rate, float32) to the 48 kHz int16 mono the outbound track sends."""

from __future__ import annotations

import av
import numpy as np

TRACK_RATE = 48000
# libswresample's default filter leaves the image of a 10 kHz tone at 22.05 kHz only 25 dB
# down; a longer filter with its cutoff at 90% of Nyquist rejects it by ~98 dB at the same
# (~1 ms per second of audio) cost. soxr would be better still but PyAV's wheel lacks it.
_FILTER = {"filter_size": "128", "cutoff": "0.9"}


def to_int16_48k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float32 mono in [-1, 1] at `sample_rate` -> int16 mono at 48 kHz.

    Uses libswresample through PyAV (a windowed-sinc filter, so no aliasing), with a fresh
    resampler per clip: each clip is a whole utterance and resamplers are not thread-safe.
    Output length is round(len * 48000 / sample_rate), give or take a sample.
    """
    assert samples.ndim == 1, samples.shape
    if len(samples) == 0:
        return np.zeros(0, dtype=np.int16)
    mono = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
    if sample_rate == TRACK_RATE:
        return _to_int16(mono[0])
    frame = av.AudioFrame.from_ndarray(mono, format="flt", layout="mono")
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=TRACK_RATE, options=_FILTER)
    # resample(None) flushes the filter's tail, without which the last ~ms would be lost.
    out = [f.to_ndarray()[0] for f in (*resampler.resample(frame), *resampler.resample(None))]
    return _to_int16(np.concatenate(out) if out else np.zeros(0, dtype=np.float32))


def _to_int16(samples: np.ndarray) -> np.ndarray:
    # Clip in float: the filter can overshoot full scale, and int16 would wrap around.
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
