"""Which voice speaks each language: configured coqui or Piper voices, the embedded Piper
voice, espeak-ng everywhere else."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.config_file import CoquiVoiceModel
from bot.tts.base import Voice
from bot.tts.espeak import EspeakVoice, espeak_languages
from bot.tts.piper import embedded_voice, voices_in

log = logging.getLogger(__name__)


class VoiceRegistry:
    """Voices by language, best first: the order given is the order of preference."""

    def __init__(self, voices: Iterable[Voice]) -> None:
        self._by_lang: dict[str, list[Voice]] = {}
        for voice in voices:
            self._by_lang.setdefault(voice.lang, []).append(voice)

    @classmethod
    def from_system(cls, voices_dir: str | Path | None = None,
                    coqui: Sequence[CoquiVoiceModel] = ()) -> VoiceRegistry:
        """Configured coqui voices, then Piper voices from `voices_dir`, then the embedded
        Piper voice, then espeak-ng.

        Order is preference: what the user brought beats what ships with Interpres, and
        Piper beats espeak-ng for any language both speak. Loading the models here (not on
        first use) keeps the first utterance fast and makes a broken voice show at startup;
        a configured coqui voice that cannot load stops the start (ModelUnavailable), because
        the user asked for it by name.
        """
        voices: list[Voice] = []
        if coqui:
            from bot.tts.coqui import voices_from

            voices.extend(voices_from(coqui))
        if voices_dir:
            voices.extend(voices_in(voices_dir))
        voices.append(embedded_voice())
        espeak = sorted(espeak_languages())
        if not espeak:
            log.warning("espeak-ng not found: only languages with a Piper voice will be spoken")
        voices.extend(EspeakVoice(lang) for lang in espeak)
        return cls(voices)

    def voice_for(self, lang: str) -> Voice | None:
        candidates = self._by_lang.get(lang)
        return candidates[0] if candidates else None

    def languages(self) -> dict[str, list[str]]:
        """Language -> voice names, best first (what `interpres doctor` shows)."""
        return {lang: [v.name for v in voices] for lang, voices in sorted(self._by_lang.items())}
