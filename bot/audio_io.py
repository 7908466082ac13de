"""Audio files in and out: any format FFmpeg reads, streamed as 16 kHz mono float32 chunks.

The file CLI, the benchmarks and the tests all read audio through here, so every caller sees
the same resampling as live audio (PyAV's resampler, as in the inbound RTC path) and the same
errors: `AudioFileError` with a message a person can act on, never an FFmpeg exception.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from contextlib import contextmanager

import av
import numpy as np

SAMPLE_RATE = 16000

PathLike = str | os.PathLike[str]


class AudioFileError(ValueError):
    """The file is missing, not audio at all, or has no audio stream."""


def probe_duration(path: PathLike) -> float:
    """Seconds of audio in the file, from the stream or container header when they know it."""
    with _open_audio(path) as (container, stream):
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
    # Some containers (raw ADTS, some Ogg files) carry no duration: count decoded samples.
    return sum(len(chunk) for chunk in iter_audio(path, chunk_seconds=10.0)) / SAMPLE_RATE


def iter_audio(path: PathLike, chunk_seconds: float = 0.1) -> Iterator[np.ndarray]:
    """Yield the file's first audio stream as 16 kHz mono float32 chunks of `chunk_seconds`.

    Every chunk has exactly round(chunk_seconds * 16000) samples except possibly the last.
    The file is decoded as it is iterated, so an hour of audio never sits in memory.
    A bad path raises here, at the call, not at the first iteration.
    """
    chunk_samples = round(chunk_seconds * SAMPLE_RATE)
    if chunk_samples < 1:
        raise ValueError(f"chunk_seconds must give at least one sample, got {chunk_seconds}")
    with _open_audio(path):
        pass
    return _decode_chunks(path, chunk_samples)


def read_audio(path: PathLike) -> np.ndarray:
    """The whole file as 16 kHz mono float32 (for tests and benchmarks, not for long inputs)."""
    chunks = list(iter_audio(path, chunk_seconds=10.0))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def write_wav(path: PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono int16 or float32 samples (float is clipped to [-1, 1]) as 16-bit PCM WAV."""
    samples = np.asarray(samples)
    assert samples.ndim == 1, f"write_wav takes mono samples, got shape {samples.shape}"
    if samples.dtype != np.int16:
        assert np.issubdtype(samples.dtype, np.floating), f"unsupported dtype {samples.dtype}"
        samples = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.astype("<i2").tobytes())


@contextmanager
def _open_audio(path: PathLike) -> Iterator[tuple[av.container.InputContainer, av.AudioStream]]:
    """Open `path` and find its first audio stream, turning every failure into AudioFileError."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioFileError(f"file not found: {name}")
    if os.path.isdir(name):
        raise AudioFileError(f"not an audio file: {name} (it is a directory)")
    try:
        container = av.open(name, mode="r")
    except av.error.FFmpegError as error:
        raise AudioFileError(f"not an audio file: {name} (ffmpeg says: {_reason(error)})") from None
    try:
        if not container.streams.audio:
            raise AudioFileError(f"no audio stream in {name} ({_found(container)})")
        yield container, container.streams.audio[0]
    finally:
        container.close()


def _decode_chunks(path: PathLike, chunk_samples: int) -> Iterator[np.ndarray]:
    name = os.fspath(path)
    # A fresh resampler per file: it keeps filter state (and a sample delay) between frames.
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_samples = 0
    with _open_audio(path) as (container, stream):
        try:
            # Demuxing only the audio stream skips a video's frames without decoding them.
            frames = (f for packet in container.demux(stream) for f in packet.decode())
            for frame in _with_flush(frames):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    pending.append(samples)
                    pending_samples += len(samples)
                if pending_samples >= chunk_samples:
                    buffer = np.concatenate(pending)
                    offset = 0
                    while pending_samples - offset >= chunk_samples:
                        yield buffer[offset : offset + chunk_samples]
                        offset += chunk_samples
                    pending = [buffer[offset:]]
                    pending_samples -= offset
        except av.error.FFmpegError as error:
            # The header was fine but the data is damaged (a truncated download, say).
            raise AudioFileError(f"cannot decode {name} (ffmpeg says: {_reason(error)})") from None
    if pending_samples:
        yield np.concatenate(pending)


def _with_flush(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    # None flushes the resampler: without it the last few milliseconds stay inside it.
    yield from frames
    yield None


def _reason(error: av.error.FFmpegError) -> str:
    return error.strerror or str(error)


def _found(container: av.container.InputContainer) -> str:
    # FFmpeg opens almost anything (a text file is "tty" video): say what it saw instead.
    kinds = [stream.type for stream in container.streams]
    counts = {kind: kinds.count(kind) for kind in kinds}
    held = ", ".join(f"{n} {kind} stream{'s' * (n > 1)}" for kind, n in counts.items())
    held = held or "no streams"
    return f"ffmpeg reads it as {container.format.name} with {held}"
