"""The server's cheap media paths: self-encoded outbound Opus, digital-silence inbound, and
the VAD that skips its model on digital silence. Each must sound (or score) the same as
the expensive path it replaces."""

import asyncio
import fractions

import numpy as np
import pytest
from av import AudioFrame, CodecContext, Packet

from bench.clips import AUDIO_DIR as AUDIO
from bot.asr.vad import SILENT_DB, StreamingVad
from bot.audio_io import read_audio
from bot.rtc.inbound import is_silent, to_mono_s16
from bot.rtc.tracks import FRAME, RATE, MixMinusTrack, PcmTrack


def tone(seconds: float, freq: float = 440.0, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def decode(packets: list[Packet]) -> np.ndarray:
    decoder = CodecContext.create("libopus", "r")
    decoder.sample_rate = RATE
    decoder.layout = "stereo"  # as a browser decodes an opus/48000/2 stream
    out = []
    for packet in packets:
        for frame in decoder.decode(packet):
            out.append(to_mono_s16(frame))
    return np.concatenate(out)


def test_encoded_track_sends_opus_that_decodes_to_the_same_tone():
    async def main() -> list:
        track = PcmTrack(encoded=True)
        track.push(tone(0.5))
        packets = [await track.recv() for _ in range(25)]
        track.stop()
        return packets

    packets = asyncio.run(main())
    assert all(isinstance(p, Packet) for p in packets)
    pts = [p.pts for p in packets]
    assert all(b - a == FRAME for a, b in zip(pts, pts[1:], strict=False))
    assert packets[0].time_base == fractions.Fraction(1, RATE)
    audio = decode(packets)[4000:20000]  # past the codec's start-up
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert 8000 / np.sqrt(2) * 0.8 < rms < 8000 / np.sqrt(2) * 1.2
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * RATE / len(audio) - 440) < 5


def test_encoded_track_stays_quiet_after_silence_like_the_pcm_track():
    async def main() -> tuple[int, int]:
        track = MixMinusTrack(encoded=True)
        track.feed("a", tone(0.1))
        # 5 frames of tone, then HANGOVER silent frames, then nothing until new sound.
        sent = [await track.recv() for _ in range(5 + track.HANGOVER)]
        track.feed("a", tone(0.02))
        resumed = await asyncio.wait_for(track.recv(), 2.0)
        track.stop()
        return sent[-1].pts, resumed.pts

    last, resumed = asyncio.run(main())
    assert resumed > last  # the stream resumes without a burst of stale frames


def test_stereo_frames_average_to_mono_without_gain():
    left = tone(0.02)
    frame = AudioFrame.from_ndarray(np.stack([left, left], 1).reshape(1, -1), format="s16",
                                    layout="stereo")
    frame.sample_rate = RATE
    mono = to_mono_s16(frame)
    assert mono.dtype == np.int16 and len(mono) == FRAME
    assert np.abs(mono.astype(np.int32) - left).max() <= 1


def test_digital_silence_is_recognised_but_quiet_noise_is_not():
    assert is_silent(np.zeros(FRAME, np.int16))
    assert is_silent(np.full(FRAME, -2, np.int16))
    noise = np.random.default_rng(0).normal(0, 30, FRAME).astype(np.int16)  # ~ -60 dBFS
    assert not is_silent(noise)


def test_vad_skips_the_model_on_digital_silence_and_still_finds_speech_after_it():
    vad = StreamingVad()
    zeros = np.zeros(32 * 512, np.float32)
    assert vad.cheap(zeros)
    scores = vad.process(zeros)
    assert len(scores) == 32 and all(s == (0.0, SILENT_DB) for s in scores)
    speech = read_audio(AUDIO / "en_whisper_jfk.wav")[:48000]
    assert not vad.cheap(speech)
    after_silence = [p for p, _ in vad.process(speech)]
    fresh = [p for p, _ in StreamingVad().process(speech)]
    # A fresh state after digital silence: the same scores as a stream that starts here,
    # apart from the first window's context (zeros vs the silence's tail, also zeros).
    assert max(after_silence) > 0.8
    assert np.allclose(after_silence, fresh, atol=1e-4)


@pytest.mark.parametrize("peak", [1, 3])
def test_vad_cheap_path_only_for_digital_silence(peak):
    vad = StreamingVad()
    audio = np.zeros(1600, np.float32)
    audio[100] = peak / 32768
    assert vad.cheap(audio) == (peak <= 2)


def test_orphaned_aiortc_send_failures_are_not_logged_as_errors(caplog):
    import gc
    import logging

    from bot.rtc.peer import quiet_orphaned_send_errors

    class RTCSctpTransport:  # the name aiortc's fire-and-forget send tasks carry
        async def _data_channel_flush(self) -> None:
            raise ConnectionError("Cannot send encrypted data, not connected")

    async def other() -> None:
        raise ValueError("a real bug")

    async def main() -> None:
        quiet_orphaned_send_errors(asyncio.get_running_loop())
        tasks = [asyncio.ensure_future(RTCSctpTransport()._data_channel_flush()),
                 asyncio.ensure_future(other())]
        await asyncio.sleep(0.01)
        del tasks
        gc.collect()  # unretrieved exceptions are reported when the task is collected

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "never retrieved" in errors[0]  # the real bug still shows
    assert any("transport closed while sending" in r.getMessage() for r in caplog.records)
