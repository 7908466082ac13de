"""Real files of every kind a user may hand the CLI, made with PyAV (FFmpeg) in tmp_path."""

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.audio_io import AudioFileError, iter_audio, probe_duration, read_audio, write_wav

JFK = Path("/work/shared/audio/en_whisper_jfk.wav")
SECONDS = 1.3
TOLERANCE = 0.02


def tone(rate: int, channels: int, hz: float = 1000.0, seconds: float = SECONDS) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.tile(0.5 * np.sin(2 * np.pi * hz * t), (channels, 1)).astype(np.float32)


def encode_audio(container, stream, signal: np.ndarray) -> None:
    """Feed planar float `signal` (channels x samples) to `stream` in codec-sized frames."""
    rate = stream.codec_context.sample_rate
    size = stream.codec_context.frame_size or 1024
    for at in range(0, signal.shape[1], size):
        block = np.ascontiguousarray(signal[:, at : at + size])
        if stream.format.name == "s16":
            packed = (block.T * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(packed, format="s16", layout=stream.layout.name)
        else:
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=stream.layout.name)
        frame.sample_rate, frame.pts, frame.time_base = rate, at, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def add_audio(container, codec: str, rate: int, channels: int, sample_format: str):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "stereo" if channels == 2 else "mono"
    stream.format = sample_format
    return stream


def add_video(container):
    video = container.add_stream("mpeg4", rate=25)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    return video


def encode_video(container, video, frames: int) -> None:
    for index in range(frames):
        image = np.full((48, 64, 3), index * 10 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        container.mux(video.encode(frame))
    container.mux(video.encode(None))


# name, container format, codec, sample rate, channels, sample format
AUDIO_FILES = [
    ("stereo48k.wav", "wav", "pcm_s16le", 48000, 2, "s16"),
    ("speech.mp3", "mp3", "libmp3lame", 44100, 2, "fltp"),
    ("speech.opus", "ogg", "libopus", 48000, 1, "s16"),
    ("speech.flac", "flac", "flac", 44100, 1, "s16"),
    ("speech.m4a", "ipod", "aac", 22050, 1, "fltp"),
]


def make_audio_file(tmp_path: Path, spec) -> Path:
    name, fmt, codec, rate, channels, sample_format = spec
    path = tmp_path / name
    with av.open(str(path), "w", format=fmt) as container:
        stream = add_audio(container, codec, rate, channels, sample_format)
        encode_audio(container, stream, tone(rate, channels))
    return path


@pytest.fixture
def video_with_sound(tmp_path: Path) -> Path:
    path = tmp_path / "meeting.mp4"
    with av.open(str(path), "w") as container:
        # Every stream must exist before the first packet is muxed (that writes the header).
        video = add_video(container)
        stream = add_audio(container, "aac", 48000, 2, "fltp")
        encode_video(container, video, frames=round(SECONDS * 25))
        encode_audio(container, stream, tone(48000, 2))
    return path


def dominant_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def assert_is_the_tone(path: Path) -> None:
    audio = read_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - SECONDS) <= TOLERANCE
    assert abs(probe_duration(path) - SECONDS) <= TOLERANCE
    # Away from the codec's ramp-in, the 1 kHz tone must still be at 1 kHz (0.5 Hz bins).
    middle = audio[3200:16000]
    assert abs(dominant_hz(middle) - 1000.0) <= 2.0, path.name
    assert 0.3 < np.sqrt(np.mean(middle**2)) * np.sqrt(2) < 0.8, "tone level lost"


@pytest.mark.parametrize("spec", AUDIO_FILES, ids=[spec[0] for spec in AUDIO_FILES])
def test_audio_formats_decode_to_16k_mono_float(tmp_path, spec):
    assert_is_the_tone(make_audio_file(tmp_path, spec))


def test_video_file_yields_its_audio_track(video_with_sound):
    with av.open(str(video_with_sound)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
    assert_is_the_tone(video_with_sound)


def test_chunks_have_the_asked_size_and_cover_the_file(tmp_path):
    path = make_audio_file(tmp_path, AUDIO_FILES[0])
    chunks = list(iter_audio(path, chunk_seconds=0.25))
    assert all(len(chunk) == 4000 for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 4000
    assert sum(len(chunk) for chunk in chunks) == round(SECONDS * 16000)
    assert all(chunk.dtype == np.float32 for chunk in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), read_audio(path))
    default = list(iter_audio(path))
    assert {len(chunk) for chunk in default[:-1]} == {1600}


def test_iter_audio_is_lazy(tmp_path):
    # A long file must stream: the first chunk comes before the file is decoded whole.
    path = tmp_path / "long.flac"
    with av.open(str(path), "w", format="flac") as container:
        stream = add_audio(container, "flac", 16000, 1, "s16")
        encode_audio(container, stream, tone(16000, 1, seconds=120.0))
    chunks = iter_audio(path, chunk_seconds=0.1)
    first = next(chunks)
    assert len(first) == 1600
    chunks.close()
    assert abs(probe_duration(path) - 120.0) <= TOLERANCE


def test_real_speech_clip():
    audio = read_audio(JFK)
    assert len(audio) == 11 * 16000
    assert probe_duration(JFK) == pytest.approx(11.0, abs=TOLERANCE)
    assert 0.01 < float(np.sqrt(np.mean(audio**2))) < 0.5


def test_write_wav_round_trips(tmp_path):
    ints = (np.sin(np.arange(8000) / 5) * 20000).astype(np.int16)
    write_wav(tmp_path / "ints.wav", ints, 8000)
    with wave.open(str(tmp_path / "ints.wav")) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        np.testing.assert_array_equal(np.frombuffer(wav.readframes(8000), "<i2"), ints)

    floats = np.array([0.0, 0.5, -0.5, 1.0, 2.0, -3.0], dtype=np.float32)
    write_wav(tmp_path / "floats.wav", floats, 16000)
    with wave.open(str(tmp_path / "floats.wav")) as wav:
        written = np.frombuffer(wav.readframes(6), "<i2")
    assert list(written) == [0, 16384, -16384, 32767, 32767, -32767]
    assert read_audio(tmp_path / "floats.wav") == pytest.approx(written / 32768, abs=1e-6)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.wav"
    for call in (iter_audio, read_audio, probe_duration):
        with pytest.raises(AudioFileError, match=r"^file not found: .*nope\.wav$"):
            call(missing)


def test_text_file_is_refused(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("minutes of the meeting\n" * 50)
    with pytest.raises(AudioFileError, match=r"^no audio stream in .*notes\.txt \(ffmpeg reads"):
        iter_audio(notes)


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    refusal = r"^not an audio file: .*empty\.wav \(ffmpeg says: .+\)$"
    with pytest.raises(AudioFileError, match=refusal):
        read_audio(empty)
    with pytest.raises(AudioFileError, match="not an audio file"):
        probe_duration(empty)


def test_directory_is_refused(tmp_path):
    with pytest.raises(AudioFileError, match="it is a directory"):
        iter_audio(tmp_path)


def test_image_is_refused(tmp_path):
    image = tmp_path / "slide.png"
    with av.open(str(image), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(AudioFileError, match=r"^no audio stream in .*slide\.png .*1 video stream"):
        iter_audio(image)


def test_silent_video_is_refused(tmp_path):
    path = tmp_path / "screen.mp4"
    with av.open(str(path), "w") as container:
        encode_video(container, add_video(container), frames=10)
    with pytest.raises(AudioFileError, match=r"^no audio stream in .*screen\.mp4"):
        probe_duration(path)
    with pytest.raises(AudioFileError, match="no audio stream"):
        read_audio(path)


def test_bad_chunk_size(tmp_path):
    with pytest.raises(ValueError, match="chunk_seconds"):
        iter_audio(JFK, chunk_seconds=0.0)
