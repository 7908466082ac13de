"""coqui-tts voices (optional extra `interpres[coqui]`): VITS per language, multilingual models.

A model directory is what coqui's trainer writes, or what its model hub hands out: config.json
and a checkpoint (model.pth, best_model.pth, ...). XTTS-style models load from the directory
itself. A single-language model speaks the language its [[voices.coqui]] table names; a
multilingual one speaks every language it lists (or those the table keeps), with the named
speaker or a reference recording (`speaker_wav`) where the model supports cloning.

Only paths are ever given to coqui: a model name would make it download.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np

from bot import languages
from bot.config_file import CoquiVoiceModel
from bot.models.embedded import ModelUnavailable
from bot.tts.base import SynthesisError

log = logging.getLogger(__name__)

COQUI_FIX = ("pip install 'interpres[coqui]' (the CPU build of torch: "
             "pip install torch --index-url https://download.pytorch.org/whl/cpu)")
_CHECKPOINTS = ("model.pth", "best_model.pth", "model_file.pth", "checkpoint.pth")
# Models that load from their directory (several files) rather than one checkpoint.
_DIRECTORY_MODELS = {"xtts", "bark", "tortoise"}


class CoquiModel:
    """One loaded coqui-tts model, shared by the voices (languages) it serves."""

    def __init__(self, spec: CoquiVoiceModel) -> None:
        self.spec = spec
        self.name = spec.path.name
        config_path = spec.path / "config.json"
        if not spec.path.is_dir():
            raise ModelUnavailable(f"coqui voice {spec.path}: no such directory")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelUnavailable(f"coqui voice {spec.path}: no config.json there") from None
        except ValueError as error:
            raise ModelUnavailable(f"coqui voice {config_path}: not JSON: {error}") from None
        kind = str(config.get("model", "")).lower()
        checkpoint = spec.path if kind in _DIRECTORY_MODELS else _checkpoint(spec.path)
        if spec.speaker_wav is not None and not spec.speaker_wav.is_file():
            raise ModelUnavailable(f"coqui voice {spec.path}: speaker_wav {spec.speaker_wav} "
                                   "does not exist")
        try:
            from TTS.api import TTS
        except ImportError as error:
            raise ModelUnavailable(f"coqui voice {spec.path} needs coqui-tts, which is not "
                                   f"installed ({error}). Fix: {COQUI_FIX}") from None
        try:
            self._tts = TTS(model_path=str(checkpoint), config_path=str(config_path),
                            progress_bar=False).to(spec.device)
        except Exception as error:  # coqui raises anything from TypeError to KeyError
            raise ModelUnavailable(f"coqui voice {spec.path}: cannot load it: "
                                   f"{type(error).__name__}: {error}") from None
        synthesizer = self._tts.synthesizer
        self.sample_rate = int(synthesizer.output_sample_rate)
        self._model = synthesizer.tts_model
        self._base_length_scale = getattr(self._model, "length_scale", None)
        self._speaker = self._pick_speaker(spec)
        # Its own language names ("fr-fr", "pt-br") by ISO 639-1; empty: one language.
        self._language_names = self._model_languages()
        self.languages = self._languages(spec)
        # One synthesis at a time per model: torch already uses every core for one.
        self._lock = threading.Lock()

    def voices(self) -> list[CoquiVoice]:
        return [CoquiVoice(self, lang) for lang in self.languages]

    def synthesize(self, text: str, lang: str, speed: float) -> np.ndarray:
        kwargs: dict[str, object] = {}
        if self._speaker:
            kwargs["speaker"] = self._speaker
        if self.spec.speaker_wav is not None:
            kwargs["speaker_wav"] = str(self.spec.speaker_wav)
        if self._language_names:
            kwargs["language"] = self._language_names[lang]
        with self._lock:
            if self._base_length_scale is not None:  # VITS: slower is a longer length scale
                self._model.length_scale = self._base_length_scale / speed
            elif speed != 1.0:
                kwargs["speed"] = speed  # XTTS takes it as an argument
            samples = self._tts.tts(text, **kwargs)
        audio = np.asarray(samples, dtype=np.float32)
        # The synthesizer pads every sentence with silence; the end of the last is dead air.
        return np.trim_zeros(audio, "b")

    def _pick_speaker(self, spec: CoquiVoiceModel) -> str | None:
        speakers = list(self._tts.speakers or []) if self._tts.is_multi_speaker else []
        if spec.speaker:
            if speakers and spec.speaker not in speakers:
                raise ModelUnavailable(
                    f"coqui voice {spec.path}: no speaker {spec.speaker!r}; it has "
                    f"{', '.join(speakers[:20])}{' ...' if len(speakers) > 20 else ''}")
            return spec.speaker
        if speakers and spec.speaker_wav is None:
            return speakers[0]
        return None

    def _model_languages(self) -> dict[str, str]:
        names = list(self._tts.languages or []) if self._tts.is_multi_lingual else []
        found: dict[str, str] = {}
        for name in names:
            try:
                found.setdefault(languages.normalize(name), name)
            except languages.UnknownLanguage:
                continue
        return found

    def _languages(self, spec: CoquiVoiceModel) -> tuple[str, ...]:
        if not self._language_names:
            wanted = spec.languages or ((spec.lang,) if spec.lang else ())
            if len(wanted) != 1:
                raise ModelUnavailable(f"coqui voice {spec.path} speaks one language: set "
                                       'lang = "xx" in its table, not a list')
            return wanted
        wanted = spec.languages or ((spec.lang,) if spec.lang else tuple(self._language_names))
        missing = [lang for lang in wanted if lang not in self._language_names]
        if missing:
            raise ModelUnavailable(
                f"coqui voice {spec.path}: the model does not speak {', '.join(missing)}; it "
                f"speaks {', '.join(self._language_names)}")
        return wanted


class CoquiVoice:
    """One language of a CoquiModel, behind the Voice interface."""

    def __init__(self, model: CoquiModel, lang: str) -> None:
        self.model = model
        self.lang = lang
        self.sample_rate = model.sample_rate
        multilingual = len(model.languages) > 1
        self.name = f"coqui:{model.name}" + (f":{lang}" if multilingual else "")

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        assert speed > 0, speed
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        try:
            return self.model.synthesize(text, self.lang, speed)
        except Exception as error:  # any engine failure fails this utterance only
            raise SynthesisError(f"{self.name}: {type(error).__name__}: {error}") from error

    def __repr__(self) -> str:
        return f"CoquiVoice({self.name!r}, lang={self.lang!r})"


def voices_from(specs: list[CoquiVoiceModel] | tuple[CoquiVoiceModel, ...]) -> list[CoquiVoice]:
    return [voice for spec in specs for voice in CoquiModel(spec).voices()]


def _checkpoint(directory: Path) -> Path:
    for name in _CHECKPOINTS:
        if (directory / name).is_file():
            return directory / name
    found = sorted(directory.glob("*.pth"))
    if len(found) == 1:
        return found[0]
    raise ModelUnavailable(
        f"coqui voice {directory}: no checkpoint (looked for {', '.join(_CHECKPOINTS)}"
        + (f"; found several .pth: {', '.join(p.name for p in found)}" if found else "") + ")")
