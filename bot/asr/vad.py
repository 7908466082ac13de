"""Streaming Silero VAD (the ONNX file faster-whisper ships), one instance per speaker.

faster-whisper's own wrapper scores a whole file at once; here the recurrent state (h, c)
and the 64-sample context are carried between calls, so scoring a stream chunk by chunk
gives the same probabilities as scoring it whole.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import onnxruntime
from faster_whisper.utils import get_assets_path

WINDOW = 512
CONTEXT = 64
SILENT_PEAK = 2 / 32768  # digital silence (a muted microphone): at most 2 int16 steps
SILENT_DB = -200.0  # loudness_db of zeros


def is_digital_silence(audio: np.ndarray) -> bool:
    return not len(audio) or float(np.max(np.abs(audio))) <= SILENT_PEAK


def model_path() -> str:
    return os.path.join(get_assets_path(), "silero_vad_v6.onnx")


@functools.lru_cache(maxsize=1)
def _session() -> onnxruntime.InferenceSession:
    # One shared session: it is stateless (state is passed in), tiny, and run() is thread-safe.
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(model_path(), providers=["CPUExecutionProvider"],
                                        sess_options=opts)


def loudness_db(window: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
    return 20.0 * np.log10(max(rms, 1e-10))


class StreamingVad:
    """Feed 16 kHz float32 audio of any chunk size; get (probability, loudness) per window."""

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def cheap(self, audio: np.ndarray) -> bool:
        """Whether process(audio) runs no model (digital silence): callers may then call it
        on the event loop instead of a worker thread."""
        return is_digital_silence(audio) and is_digital_silence(self._pending)

    def process(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Score every complete 512-sample window now available. Blocking (model work),
        except for digital silence."""
        data = np.concatenate([self._pending, audio.astype(np.float32, copy=False)])
        count = len(data) // WINDOW
        self._pending = data[count * WINDOW:]
        if count == 0:
            return []
        windows = data[: count * WINDOW].reshape(count, WINDOW)
        if is_digital_silence(windows):
            # A muted microphone: the model would say ~0 anyway. Fresh state, as at the start
            # of a stream, so speech after unmuting is scored like speech after silence.
            self._h = np.zeros_like(self._h)
            self._c = np.zeros_like(self._c)
            self._context = np.zeros(CONTEXT, dtype=np.float32)
            return [(0.0, SILENT_DB)] * count
        contexts = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, windows], axis=1)
        self._context = windows[-1, -CONTEXT:].copy()
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c})
        probs = np.asarray(out).reshape(-1)
        return [(float(p), loudness_db(w)) for p, w in zip(probs, windows, strict=True)]
