"""espeak-ng voices: robotic but present for ~100 languages, so no listener goes unserved."""

from __future__ import annotations

import io
import re
import subprocess
import wave

import numpy as np

from bot.tts.base import SynthesisError

_DEFAULT_WPM = 175
# espeak-ng refuses rates outside this range.
_MIN_WPM, _MAX_WPM = 80, 450
# espeak-ng renders a 2,000-character paragraph in well under a second; this only
# catches a wedged process.
_TIMEOUT_S = 30.0
# Every espeak-ng voice (mbrola ones aside, which we never select) renders at this rate.
_SAMPLE_RATE = 22050

# Codes espeak-ng spells with three letters whose ISO 639-1 code it does not list itself.
_THREE_TO_TWO = {"cmn": "zh"}
# "(zh-cmn 5)(zh 5)" in the "Other Languages" column.
_OTHER_LANGUAGE = re.compile(r"\(([^\s)]+) \d+\)")


class EspeakVoice:
    def __init__(self, lang: str, wpm: int = _DEFAULT_WPM) -> None:
        self.lang = lang
        self.name = f"espeak-ng:{lang}"
        self.sample_rate = _SAMPLE_RATE
        self._wpm = wpm

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        assert speed > 0, speed
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        wpm = min(max(round(self._wpm * speed), _MIN_WPM), _MAX_WPM)
        # Text goes on stdin, never argv: it comes from a translation of what someone
        # said, and a leading "-" must not be read as an option.
        command = ["espeak-ng", "-v", self.lang, "-s", str(wpm), "--stdout"]
        try:
            result = subprocess.run(
                command, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SynthesisError(f"{self.name}: {error}") from error
        if result.returncode != 0 or not result.stdout:
            message = result.stderr.decode("utf-8", "replace").strip()[:200]
            raise SynthesisError(f"{self.name}: exit {result.returncode}: {message}")
        return self._decode(result.stdout)

    def _decode(self, data: bytes) -> np.ndarray:
        try:
            with wave.open(io.BytesIO(data)) as wav:
                if (wav.getsampwidth(), wav.getnchannels()) != (2, 1):
                    raise SynthesisError(f"{self.name}: unexpected WAV format")
                if wav.getframerate() != self.sample_rate:
                    raise SynthesisError(f"{self.name}: unexpected rate {wav.getframerate()}")
                # Writing to a pipe, espeak-ng cannot seek back to fill in the length, so
                # the header claims ~2 GB: read what is there and drop a torn last sample.
                frames = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as error:
            raise SynthesisError(f"{self.name}: bad WAV: {error}") from error
        usable = len(frames) - len(frames) % 2
        samples = np.frombuffer(frames[:usable], dtype="<i2")
        return (samples.astype(np.float32) / 32768.0).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"EspeakVoice({self.lang!r})"


def espeak_languages() -> set[str]:
    """ISO 639-1 codes espeak-ng has a voice for; empty when espeak-ng is not installed."""
    try:
        listing = subprocess.run(
            ["espeak-ng", "--voices"], capture_output=True, text=True, timeout=_TIMEOUT_S
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return parse_voice_list(listing)


def parse_voice_list(listing: str) -> set[str]:
    """Codes from `espeak-ng --voices`: both the Language column and "Other Languages"."""
    codes: set[str] = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        spellings = [fields[1], *_OTHER_LANGUAGE.findall(line)]
        for spelling in spellings:
            primary = spelling.lower().split("-")[0]
            primary = _THREE_TO_TWO.get(primary, primary)
            # Only two-letter codes are ISO 639-1; "grc", "jbo", "qya" have none.
            if len(primary) == 2 and primary.isalpha():
                codes.add(primary)
    return codes
