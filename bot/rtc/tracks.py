"""Outbound audio tracks: 48 kHz mono s16, 20 ms frames, paced by pts, silence when idle.

`PcmTrack` plays queued PCM (an interpretation voice). `MixMinusTrack` mixes, frame by frame,
what every other participant said: each speaker's audio is queued per listener, so nobody
hears themselves and no room-wide clock task is needed (each listener's track pulls).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, CodecContext, Packet

RATE = 48000
FRAME = 960  # 20 ms
TIME_BASE = fractions.Fraction(1, RATE)
SILENCE_PEAK = 16  # a mix whose peak is below -66 dBFS is silence
BITRATE = 40000  # mono voice; browsers send 32 kbit/s mono Opus themselves


class OpusPacketizer:
    """Encodes 20 ms mono frames to Opus in the calling thread.

    aiortc encodes every frame in the default executor (a thread hop each way) after
    measuring its audio level, in stereo at 96 kbit/s. For the server's many outbound
    tracks that hop and level, not the codec, were the event loop's largest cost. Mono Opus
    packets are valid in an `opus/48000/2` stream (browsers send mono that way) and cost half
    as much to encode. aiortc sends an `av.Packet` as it is.
    """

    def __init__(self, bitrate: int = BITRATE) -> None:
        self.codec = CodecContext.create("libopus", "w")
        self.codec.bit_rate = bitrate
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = RATE
        self.codec.time_base = TIME_BASE
        self.codec.options = {"application": "voip"}

    def encode(self, frame: AudioFrame) -> list[Packet]:
        return self.codec.encode(frame)


class SampleQueue:
    """A FIFO of int16 samples, bounded so a stalled reader never grows memory or latency."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self._chunks: deque[np.ndarray] = deque()
        self.size = 0
        self.dropped = 0

    def push(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)
        self.size += len(samples)
        while self.size > self.max_samples and self._chunks:
            old = self._chunks.popleft()
            self.size -= len(old)
            self.dropped += len(old)

    def take(self, count: int) -> np.ndarray | None:
        """`count` samples, padded with silence at the end; None when empty."""
        if not self.size:
            return None
        out = np.zeros(count, np.int16)
        filled = 0
        while filled < count and self._chunks:
            chunk = self._chunks[0]
            n = min(count - filled, len(chunk))
            out[filled:filled + n] = chunk[:n]
            filled += n
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        self.size -= filled
        return out

    def clear(self) -> None:
        self._chunks.clear()
        self.size = 0


class PacedTrack(MediaStreamTrack):
    """Base: emits 20 ms frames paced on the wall clock like aiortc's own AudioStreamTrack;
    subclasses provide the samples.

    A subclass may return None for a frame that is silence: after `HANGOVER` silent frames
    nothing is sent until sound returns (the RTP timestamps jump, as with Opus DTX). Encoding,
    encrypting and sending silence was most of a silent listener's cost to the server.
    """

    kind = "audio"
    HANGOVER = 10  # silent frames still sent after sound, so the far decoder fades out

    def __init__(self, encoded: bool = False) -> None:
        """encoded: recv() returns Opus packets (see OpusPacketizer), not PCM frames."""
        super().__init__()
        self._start: float | None = None
        self._pts = -FRAME
        self._silent_run = 0
        self._packetizer = OpusPacketizer() if encoded else None

    def next_samples(self) -> np.ndarray | None:
        raise NotImplementedError

    async def _tick(self) -> None:
        if self._start is None:
            self._start = time.monotonic()
        self._pts += FRAME
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.5:
            # Far behind (the loop stalled): re-anchor instead of bursting frames.
            self._start = time.monotonic() - self._pts / RATE

    async def recv(self) -> AudioFrame | Packet:
        while True:
            frame = await self._next_frame()
            if self._packetizer is None:
                return frame
            packets = self._packetizer.encode(frame)
            if packets:  # libopus returns one packet per 20 ms frame
                return packets[0]

    async def _next_frame(self) -> AudioFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._tick()
            samples = self.next_samples()
            if samples is not None:
                self._silent_run = 0
                break
            self._silent_run += 1
            if self._silent_run <= self.HANGOVER or self._pts == 0:
                samples = np.zeros(FRAME, np.int16)
                break
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        return frame


class PcmTrack(PacedTrack):
    """Plays queued PCM; reports when it starts and stops sounding (for ducking)."""

    def __init__(self, on_state: Callable[[bool], None] | None = None,
                 max_seconds: float = 60.0, encoded: bool = False) -> None:
        super().__init__(encoded)
        self.queue = SampleQueue(int(max_seconds * RATE))
        self.on_state = on_state
        self.playing = False

    def push(self, samples: np.ndarray) -> None:
        self.queue.push(samples.astype(np.int16, copy=False))

    def clear(self) -> None:
        self.queue.clear()

    def next_samples(self) -> np.ndarray | None:
        samples = self.queue.take(FRAME)
        playing = samples is not None
        if playing != self.playing:
            self.playing = playing
            if self.on_state:
                self.on_state(playing)
        if samples is None:
            return None
        return samples


class MixMinusTrack(PacedTrack):
    """Everybody else's original voice, mixed for one listener."""

    def __init__(self, max_latency: float = 0.12, encoded: bool = False) -> None:
        super().__init__(encoded)
        self.sources: dict[str, SampleQueue] = {}
        self._max = int(max_latency * RATE)

    def feed(self, speaker_id: str, samples: np.ndarray) -> None:
        queue = self.sources.get(speaker_id)
        if queue is None:
            queue = self.sources[speaker_id] = SampleQueue(self._max)
        queue.push(samples)

    def remove(self, speaker_id: str) -> None:
        self.sources.pop(speaker_id, None)

    def next_samples(self) -> np.ndarray | None:
        mix = np.zeros(FRAME, np.int32)
        for queue in list(self.sources.values()):
            samples = queue.take(FRAME)
            if samples is not None:
                mix += samples
        if int(np.abs(mix).max()) <= SILENCE_PEAK:
            return None
        return np.clip(mix, -32768, 32767).astype(np.int16)
