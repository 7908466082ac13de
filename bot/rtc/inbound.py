"""Inbound audio: drain a remote track, hand 48 kHz mono int16 (for the mix) and 16 kHz mono
float32 (for recognition) to the room.

Every remote track is drained until it ends, even when nobody needs it: an unread aiortc track
queues about 1 MB/s forever.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from av.audio.resampler import AudioResampler

log = logging.getLogger(__name__)


def to_mono_s16(frame: AudioFrame) -> np.ndarray:
    """Mono int16 at the frame's rate. Channels are averaged here: letting the resampler
    downmix would add 3 dB to a mono voice sent as stereo (it sums at 0.707 each)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    planar = frame.format.is_planar
    mono = data.mean(axis=0) if planar else data.reshape(-1, channels).mean(axis=1)
    if frame.format.name.startswith("s16"):
        return mono.astype(np.int16)
    return np.clip(mono * 32767, -32768, 32767).astype(np.int16)


class Downsampler:
    """Mono int16 at any rate -> 16 kHz mono float32, streaming."""

    def __init__(self) -> None:
        self._resampler = AudioResampler(format="flt", layout="mono", rate=16000)

    def __call__(self, mono: np.ndarray, rate: int) -> np.ndarray:
        frame = AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)


async def drain(track: MediaStreamTrack,
                on_audio: Callable[[np.ndarray, int, np.ndarray], Awaitable[None] | None]) -> None:
    """Read `track` until it ends; call on_audio(mono_s16, rate, speech_16k_f32) per frame."""
    downsample = Downsampler()
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        mono = to_mono_s16(frame)
        result = on_audio(mono, frame.sample_rate, downsample(mono, frame.sample_rate))
        if result is not None:
            await result
