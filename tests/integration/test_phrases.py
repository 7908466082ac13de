"""A phrase list with the real base model: a made-up name that the model gets wrong alone is
right with the list in the source caption, through Apertium, through a CTranslate2 model, and
in the synthesized voice (heard back by the same model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.material import Voices
from bot.asr.whisper import DecodeOptions
from bot.config import Config
from bot.events import Caption, SpeechAudio
from bot.mt.router import TranslationRouter
from bot.phrases import Phrase, hotwords
from bot.pipeline.engines import Engines
from tests.conftest import run_pipeline

NAME = "Karvonix"  # the base model hears "Carbonics" (Piper's voice)
SENTENCE = f"Please send the contract to {NAME} before Friday."
PHRASES = (Phrase(NAME, {"fr": NAME}),)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    spoken = Voices().piper(SENTENCE).audio
    silence = np.zeros(16000, np.float32)
    return np.concatenate([silence, spoken, silence])


def finals(events, lang: str) -> list[str]:
    return [e.text for e in events if isinstance(e, Caption) and e.final and e.lang == lang]


def test_without_the_list_the_name_is_wrong_and_nothing_else_changes(engines, speech):
    events = run_pipeline(engines, speech, language="en", targets=("es",))
    source = " ".join(finals(events, "en"))
    assert source and NAME.lower() not in source.lower(), source
    assert "contract" in source.lower()


def test_the_list_puts_the_name_right_through_apertium_and_the_voice(engines, speech):
    events = run_pipeline(engines, speech, language="en", targets=("es", "fr"), speech=True,
                          phrases=PHRASES)
    source = " ".join(finals(events, "en"))
    assert NAME in source, source
    spanish = " ".join(finals(events, "es"))  # apertium:eng-spa
    french = " ".join(finals(events, "fr"))  # apertium:eng-spa>apertium:es-fr
    assert NAME in spanish and "contrato" in spanish, spanish
    assert NAME in french and "contrat" in french, french
    clips = [e for e in events if isinstance(e, SpeechAudio) and e.lang == "es"]
    assert clips and NAME in clips[0].text
    # The espeak-ng voice said the name: the model, told the room's terms as it is in the
    # room, hears it back.
    audio = clips[0].samples[::3].astype(np.float32) / 32768  # 48 kHz int16 -> 16 kHz
    heard = engines.asr.transcribe(audio, DecodeOptions(language="es", beam_size=5,
                                                        hotwords=hotwords(PHRASES)))
    assert NAME.lower() in heard.text.lower(), heard.text


def test_the_spoken_form_is_what_the_voice_reads(engines, speech):
    phrases = (Phrase(NAME, say="Carvo Nix"),)
    events = run_pipeline(engines, speech, language="en", targets=("es",), speech=True,
                          phrases=phrases)
    clips = [e for e in events if isinstance(e, SpeechAudio) and e.lang == "es"]
    assert clips and "Carvo Nix" in clips[0].text and NAME not in clips[0].text
    assert NAME in " ".join(finals(events, "es"))  # the caption keeps the written form


def test_the_name_survives_a_ctranslate2_model(engines, speech, tiny_models: Path,
                                                 monkeypatch):
    monkeypatch.setenv("INTERPRES_CONFIG", str(tiny_models))
    router = TranslationRouter.from_system(neural=Config.from_env().translation_models)
    try:
        assert router.route("en", "fr").engine == "ctranslate2:opus-mt-en-fr"
        neural: Engines = replace(engines, router=router)
        events = run_pipeline(neural, speech, language="en", targets=("fr",),
                              phrases=PHRASES)
        french = [e for e in events if isinstance(e, Caption) and e.final and e.lang == "fr"]
        assert french and french[0].engine == "ctranslate2:opus-mt-en-fr"
        assert NAME in french[0].text, french[0].text
    finally:
        router.close()


def test_listeners_who_mask_swearing_hear_a_voice_without_it(engines):
    """One language, two settings: two clips, and the masked one, heard back, lacks the word."""
    sentence = Voices().piper("Oh shit, the contract is late again.").audio
    audio = np.concatenate([np.zeros(8000, np.float32), sentence, np.zeros(16000, np.float32)])
    events = run_pipeline(engines, audio, language="en", targets=("es",), speech=True,
                          profanity=("masked", "raw"))
    clips = {e.profanity: e for e in events if isinstance(e, SpeechAudio) and e.lang == "es"}
    assert set(clips) == {("masked",), ("raw",)}, clips
    assert "mierda" in clips[("raw",)].text.lower()
    assert "mierda" not in clips[("masked",)].text.lower()

    def heard(clip: SpeechAudio) -> str:
        samples = clip.samples[::3].astype(np.float32) / 32768
        return engines.asr.transcribe(samples, DecodeOptions(language="es", beam_size=5)).text

    assert "mierda" in heard(clips[("raw",)]).lower()
    assert "mierda" not in heard(clips[("masked",)]).lower()
