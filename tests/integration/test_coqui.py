"""coqui-tts voices built here from coqui's own config classes (bench/tiny_models.py), and the
voice registry's order with configured voices."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.tiny_models import build_vits
from bot.config_file import CoquiVoiceModel
from bot.models.embedded import ModelUnavailable
from bot.tts.coqui import CoquiModel, voices_from
from bot.tts.resample import to_int16_48k
from bot.tts.voices import VoiceRegistry

pytestmark = pytest.mark.slow

SENTENCE = "bonjour le monde, ceci est un test."


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


@pytest.fixture(scope="module")
def models(tiny_models: Path) -> Path:
    return tiny_models.parent


def test_single_speaker_vits_speaks(models: Path) -> None:
    [voice] = voices_from([CoquiVoiceModel(path=models / "tiny-vits-fr", lang="fr")])
    assert voice.name == "coqui:tiny-vits-fr"
    assert voice.lang == "fr"
    assert voice.sample_rate == 22050  # from the model's config, not assumed
    samples = voice.synthesize(SENTENCE)
    assert samples.dtype == np.float32 and samples.ndim == 1
    # A random VITS still follows its duration predictor: some length per character.
    assert 0.3 < len(samples) / voice.sample_rate < 10.0
    assert rms(samples) > 1e-3  # not silence
    assert samples[-1] != 0.0  # the synthesizer's trailing padding is trimmed
    assert voice.synthesize("  ").size == 0
    # What the room's track gets: 48 kHz int16 from any model rate.
    assert to_int16_48k(samples, voice.sample_rate).dtype == np.int16


def test_speed_changes_the_length_scale(models: Path) -> None:
    [voice] = voices_from([CoquiVoiceModel(path=models / "tiny-vits-fr", lang="fr")])
    normal = len(voice.synthesize(SENTENCE, speed=1.0))
    fast = len(voice.synthesize(SENTENCE, speed=1.6))
    assert fast < 0.8 * normal


def test_multilingual_multi_speaker_model(models: Path) -> None:
    spec = CoquiVoiceModel(path=models / "tiny-vits-multi", languages=("en", "fr", "de"),
                           speaker="bob")
    model = CoquiModel(spec)
    voices = model.voices()
    assert [v.lang for v in voices] == ["en", "fr", "de"]
    assert [v.name for v in voices] == ["coqui:tiny-vits-multi:en", "coqui:tiny-vits-multi:fr",
                                        "coqui:tiny-vits-multi:de"]
    for voice in voices:
        assert rms(voice.synthesize(SENTENCE)) > 1e-3
    # Every language the model lists, when the table names none; or just the one named.
    assert CoquiModel(CoquiVoiceModel(path=models / "tiny-vits-multi")).languages == (
        "de", "en", "fr")
    assert CoquiModel(CoquiVoiceModel(path=models / "tiny-vits-multi", lang="fr")).languages == (
        "fr",)


def test_speakers_sound_different(models: Path) -> None:
    import torch

    outputs = []
    for speaker in ("alice", "bob"):
        [voice] = voices_from([CoquiVoiceModel(path=models / "tiny-vits-multi",
                                               languages=("fr",), speaker=speaker)])
        torch.manual_seed(0)  # VITS samples noise: same seed, so only the speaker differs
        outputs.append(voice.synthesize(SENTENCE))
    alice, bob = outputs
    assert len(alice) != len(bob) or not np.allclose(alice, bob)


def test_configuration_mistakes_are_clear(models: Path, tmp_path: Path) -> None:
    multi = models / "tiny-vits-multi"
    with pytest.raises(ModelUnavailable, match="no speaker 'carol'; it has alice, bob"):
        CoquiModel(CoquiVoiceModel(path=multi, languages=("fr",), speaker="carol"))
    with pytest.raises(ModelUnavailable, match="does not speak ja; it speaks de, en, fr"):
        CoquiModel(CoquiVoiceModel(path=multi, languages=("ja",)))
    with pytest.raises(ModelUnavailable, match="no such directory"):
        CoquiModel(CoquiVoiceModel(path=tmp_path / "missing", lang="fr"))
    empty = tmp_path / "no-checkpoint"
    empty.mkdir()
    shutil.copy(models / "tiny-vits-fr" / "config.json", empty)
    with pytest.raises(ModelUnavailable, match="no checkpoint"):
        CoquiModel(CoquiVoiceModel(path=empty, lang="fr"))
    with pytest.raises(ModelUnavailable, match="speaker_wav .* does not exist"):
        CoquiModel(CoquiVoiceModel(path=multi, languages=("fr",),
                                   speaker_wav=tmp_path / "ref.wav"))


def test_sixteen_khz_model_reports_its_rate(tmp_path: Path) -> None:
    path = build_vits(tmp_path, "vits-16k", languages=("es",), sample_rate=16000)
    [voice] = voices_from([CoquiVoiceModel(path=path, lang="es")])
    assert voice.sample_rate == 16000
    assert rms(voice.synthesize("hola, esto es una prueba.")) > 1e-3


def test_registry_prefers_configured_voices(models: Path) -> None:
    registry = VoiceRegistry.from_system(
        models / "piper-voices",
        coqui=[CoquiVoiceModel(path=models / "tiny-vits-fr", lang="fr")])
    by_lang = registry.languages()
    assert by_lang["fr"][:2] == ["coqui:tiny-vits-fr", "espeak-ng:fr"]
    # A Piper voice from the directory (language from its JSON) beats the embedded one.
    assert by_lang["en"][:2] == ["piper:en_GB-copy-medium", "piper:en_US-joe-medium"]
    assert registry.voice_for("fr").name == "coqui:tiny-vits-fr"
    plain = VoiceRegistry.from_system().languages()
    assert plain["fr"] == ["espeak-ng:fr"]
    assert plain["en"][0] == "piper:en_US-joe-medium"
