"""Which languages the server offers to speak and to hear, from the engines it has."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bot.config import Config
from bot.mt.router import TranslationRouter
from bot.server import State
from bot.tts.voices import VoiceRegistry
from tests.unit.test_router import Tagger


class English:
    name, lang, sample_rate = "test:en", "en", 16000


def state_for(router: TranslationRouter) -> State:
    async def build() -> State:  # State holds an asyncio.Event: make it inside a loop
        state = State(Config.from_env(), None, None)
        engines = SimpleNamespace(router=router, voices=VoiceRegistry([English()]))
        state.set_engines(engines)  # type: ignore[arg-type]
        return state

    return asyncio.run(build())


def test_without_any_translation_engine_english_speakers_are_still_heard() -> None:
    # No Apertium, no models: only Whisper's speech->English, and an English voice.
    state = state_for(TranslationRouter([]))
    assert state.listen == ["en"]
    assert "en" in state.speak  # heard as it is
    assert "es" in state.speak  # heard through Whisper's translate task


def test_speakable_languages_follow_the_router() -> None:
    state = state_for(TranslationRouter([Tagger("es", "fr")], speech_to_english=False))
    assert state.listen == ["en"]  # French has no voice here
    assert state.speak == ["en"]
