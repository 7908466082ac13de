"""Long, varied, conversational test audio with exact references, made offline.

    python -m bench.material OUT_DIR [--quick] [--seed N]
    python -m bench.accuracy --manifest OUT_DIR/manifest.tsv

Joins the shared human clips (../shared/audio, found as bench/clips.py finds them) with
sentences synthesised by the embedded Piper English voice and by espeak-ng, separated by
seeded random pauses, into 16 kHz mono WAV files:

    en_conversation   3 human clips + Piper sentences, short and long pauses (~100 s)
    en_slow_talk      slow Piper monologue cut at commas, pauses inside sentences (~65 s)
    LANG_conversation es, fr, de, it, pt: the human clip where there is one + 8 espeak-ng
                      sentences (45-60 s)
    en_noisy          the first ~40 s of en_conversation with white noise at 15 dB SNR
    en_short_turns    2-4 word turns ("Thank you.") by Piper and espeak-ng, 1-2 s apart
    zh_conversation   the Mandarin human clip + espeak-ng Mandarin sentences
    LANG_review       es, fr, de, it, pt: a second, held-out meeting, 14 sentences by another
                      espeak-ng speaker (~60-75 s; see bench/material_texts.py)

OUT_DIR gets manifest.tsv (the columns of the shared manifest, one language per file; the
reference is the utterance texts joined with spaces, without a separator for Chinese) and,
beside each WAV, NAME.utterances.json: [{"start", "end", "lang", "text", "source"}] in
seconds of file time. `--quick` makes only a ~30 s en_conversation and a two-sentence
es_conversation, for a CI smoke test (~5 s). The same --seed gives the same files: Piper's
sampling noise is drawn inside its ONNX graph where no seed reaches it, so Piper runs with
its noise scales at 0 (a little flatter prosody, but repeatable). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from bench.clips import AUDIO_DIR
from bench.material_texts import EN_CONVERSATION, EN_SHORT_TURNS, EN_SLOW_TALK, REVIEW, SENTENCES
from bot.audio_io import read_audio, write_wav
from bot.models.embedded import piper_voice_files
from bot.tts.espeak import EspeakVoice

RATE = 16000
SHORT_PAUSE, LONG_PAUSE = (0.25, 0.5), (1.5, 3.0)
COLUMNS = ("file", "language", "duration_s", "reference_transcript", "source", "license_note")
# espeak-ng's "cmn" voice reads the pinyin of most characters with English letter rules
# ("们" comes out as "men five"); its pinyin voice reads the same dictionary correctly.
ESPEAK_VOICES = {"en": "en-us", "es": "es", "fr": "fr-fr", "de": "de", "it": "it",
                 "pt": "pt", "zh": "cmn-latn-pinyin"}
# espeak-ng's default 175 words a minute is brisk for a meeting; 150 is a calm speaker.
ESPEAK_WPM = 150
REVIEW_VARIANT, REVIEW_WPM = "f2", 160
SLOW_LENGTH_SCALE = 1.5  # Piper: 1.5x as long per phoneme, a slow, deliberate speaker

@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # 16 kHz mono float32
    lang: str
    text: str
    source: str


class Voices:
    """Every speech source, loaded on first use (Piper takes ~1 s to load)."""

    def __init__(self) -> None:
        self._piper, self._piper_name = None, ""
        # The shared clips, found as the tests find them (INTERPRES_SHARED_AUDIO or
        # ../shared/audio beside the checkout); read here for their license notes too.
        with open(AUDIO_DIR / "manifest.tsv", encoding="utf-8", newline="") as handle:
            self._human = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))

    def piper(self, text: str, length_scale: float = 1.0) -> Utterance:
        """`text` by the embedded voice; length_scale > 1 speaks slower than the voice's own."""
        from piper import PiperVoice, SynthesisConfig

        if self._piper is None:
            model, config_path = piper_voice_files()
            self._piper, self._piper_name = PiperVoice.load(model, config_path), model.stem
        config = SynthesisConfig(length_scale=self._piper.config.length_scale * length_scale,
                                 noise_scale=0.0, noise_w_scale=0.0)
        audio = np.concatenate([c.audio_float_array for c in self._piper.synthesize(text, config)])
        source = f"piper:{self._piper_name}" + (f"*{length_scale}" if length_scale != 1 else "")
        return Utterance(_trim(_to_16k(audio, self._piper.config.sample_rate)), "en", text, source)

    def espeak(self, lang: str, text: str, variant: str = "", wpm: int = ESPEAK_WPM
               ) -> Utterance:
        """`text` by espeak-ng's voice for `lang`; `variant` ("f2") changes the speaker."""
        name = ESPEAK_VOICES[lang] + (f"+{variant}" if variant else "")
        voice = EspeakVoice(name, wpm)
        audio = _to_16k(voice.synthesize(text), voice.sample_rate)
        return Utterance(_trim(audio), lang, text, f"espeak-ng:{name}")

    def human(self, lang: str) -> list[Utterance]:
        """The shared clips of `lang`, in manifest order (none for it and pt)."""
        return [Utterance(read_audio(AUDIO_DIR / row["file"]), lang,
                          row["reference_transcript"], f"human:{row['file']}")
                for row in self._human if row["language"] == lang]

    def license_note(self, sources: Iterable[str]) -> str:
        sources = set(sources)
        engines = sorted(s for s in sources if not s.startswith("human:"))
        notes = [f"{row['file']}: {row['license_note']}" for row in self._human
                 if f"human:{row['file']}" in sources]
        return " | ".join([f"synthesised here with {', '.join(engines)}", *notes])


def _to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    assert rate == 22050, rate  # both engines' voices render at 22.05 kHz
    return resample_poly(audio, 320, 441).astype(np.float32)


def _trim(audio: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """Drop the engines' own leading/trailing silence, so the pauses we add are the pauses."""
    loud = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
    pad = int(margin * RATE)
    return audio[max(0, loud[0] - pad):loud[-1] + pad]


def _level(audio: np.ndarray) -> np.ndarray:
    """Same loudness for every voice: the loud (90th percentile) 20 ms frames at -20 dBFS."""
    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320)
    loud = np.percentile(np.sqrt((frames ** 2).mean(axis=1)), 90)
    scaled = audio * (0.1 / max(loud, 1e-6))
    return scaled * min(1.0, 0.9 / np.abs(scaled).max())


@dataclass
class Track:
    name: str
    lang: str
    audio: np.ndarray
    spans: list[dict]

    @property
    def reference(self) -> str:
        return ("" if self.lang == "zh" else " ").join(s["text"] for s in self.spans)


def join(name: str, lang: str, parts: list[Utterance], pauses: list[float]) -> Track:
    """parts[i] followed by pauses[i] seconds of silence (the last pause is the file's tail)."""
    assert len(parts) == len(pauses), (len(parts), len(pauses))
    chunks, spans, at = [], [], 0
    for part, pause in zip(parts, pauses, strict=True):
        audio = _level(part.audio)
        spans.append({"start": round(at / RATE, 3), "end": round((at + len(audio)) / RATE, 3),
                      "lang": part.lang, "text": part.text, "source": part.source})
        chunks += [audio, np.zeros(round(pause * RATE), np.float32)]
        at += len(audio) + len(chunks[-1])
    return Track(name, lang, np.concatenate(chunks), spans)


def conversation_pauses(rng: np.random.Generator, count: int) -> list[float]:
    """Half short turn-taking gaps, half long thinking pauses, in random order."""
    return [float(rng.uniform(*(SHORT_PAUSE if rng.random() < 0.5 else LONG_PAUSE)))
            for _ in range(count)]


def interleave(human: list[Utterance], synthetic: list[Utterance]) -> list[Utterance]:
    """Human clips spread evenly among the synthetic sentences, the first one second."""
    out, step = list(synthetic), max(1, len(synthetic) // max(1, len(human)))
    for i, clip in enumerate(human):
        out.insert(min(len(out), 1 + i * (step + 1)), clip)
    return out


def noisy(track: Track, name: str, seconds: float, snr_db: float,
          rng: np.random.Generator) -> Track:
    """The utterances ending within `seconds`, with white noise at `snr_db` below the speech.

    The SNR is measured against the speech power inside the utterance spans, not the
    whole file, so the pauses do not make the noise look quieter than it sounds.
    """
    spans = [s for s in track.spans if s["end"] <= seconds]
    following = track.spans[len(spans)]["start"] if len(spans) < len(track.spans) else None
    end = round(min(spans[-1]["end"] + 1.0, following or np.inf) * RATE)
    audio = track.audio[:end].copy()
    speech = np.concatenate([audio[round(s["start"] * RATE):round(s["end"] * RATE)]
                             for s in spans])
    noise_power = (speech ** 2).mean() / 10 ** (snr_db / 10)
    audio += rng.normal(0, np.sqrt(noise_power), len(audio)).astype(np.float32)
    return Track(name, track.lang, audio, spans)


def write_track(out_dir: Path, track: Track) -> None:
    """NAME.wav and NAME.utterances.json (each utterance's span and text) in out_dir."""
    write_wav(out_dir / f"{track.name}.wav", track.audio, RATE)
    (out_dir / f"{track.name}.utterances.json").write_text(
        json.dumps(track.spans, ensure_ascii=False, indent=1), encoding="utf-8")


def build_material(out_dir: Path | str, quick: bool = False, seed: int = 0,
                   progress=lambda line: print(line, file=sys.stderr, flush=True)) -> Path:
    """Write every file and the manifest into out_dir; returns the manifest's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    voices, rng = Voices(), np.random.default_rng(seed)
    rows = []

    def save(track: Track, started: float) -> None:
        write_track(out_dir, track)
        sources = sorted({s["source"] for s in track.spans})
        row = [f"{track.name}.wav", track.lang, f"{len(track.audio) / RATE:.2f}",
               track.reference, f"bench/material.py seed={seed}: " + ", ".join(sources),
               voices.license_note(sources)]
        assert not any(ch in field for field in row for ch in "\t\n"), row
        rows.append(row)
        progress(f"{track.name}.wav: {len(track.audio) / RATE:.1f} s, {len(track.spans)} "
                 f"utterances ({time.monotonic() - started:.1f} s to make)")

    # 1. English conversation: human clips among Piper sentences.
    started = time.monotonic()
    human = voices.human("en")[:1] if quick else voices.human("en")
    sentences = EN_CONVERSATION[:3] if quick else EN_CONVERSATION
    parts = interleave(human, [voices.piper(text) for text in sentences])
    conversation = join("en_conversation", "en", parts, conversation_pauses(rng, len(parts)))
    save(conversation, started)

    # 3. Other languages: the human clip where there is one, then espeak-ng sentences.
    for lang in ["es"] if quick else ["es", "fr", "de", "it", "pt"]:
        started = time.monotonic()
        texts = SENTENCES[lang][:2] if quick else SENTENCES[lang]
        parts = interleave(voices.human(lang), [voices.espeak(lang, t) for t in texts])
        save(join(f"{lang}_conversation", lang, parts, conversation_pauses(rng, len(parts))),
             started)
    if quick:
        return _write_manifest(out_dir, rows)

    # 2. Slow monologue, each sentence cut at its commas: the case where a VAD splits
    # one sentence into fragments that only make sense together.
    started = time.monotonic()
    parts, pauses = [], []
    for sentence in EN_SLOW_TALK:
        phrases = [p.strip() + "," for p in sentence.split(",")]
        phrases[-1] = phrases[-1][:-1]
        parts += [voices.piper(p, SLOW_LENGTH_SCALE) for p in phrases]
        pauses += [float(rng.uniform(0.6, 1.2)) for _ in phrases[1:]] + [2.0]
    save(join("en_slow_talk", "en", parts, pauses), started)

    # 4. The start of the English conversation under white noise.
    started = time.monotonic()
    save(noisy(conversation, "en_noisy", 40.0, 15.0, rng), started)

    # 5. Very short turns, the two English voices taking turns.
    started = time.monotonic()
    parts = [voices.piper(t) if i % 2 == 0 else voices.espeak("en", t)
             for i, t in enumerate(EN_SHORT_TURNS)]
    pauses = [float(rng.uniform(1.0, 2.0)) for _ in parts]
    save(join("en_short_turns", "en", parts, pauses), started)

    # 6. Mandarin: the human clip among espeak-ng sentences.
    started = time.monotonic()
    parts = interleave(voices.human("zh"), [voices.espeak("zh", t) for t in SENTENCES["zh"]])
    save(join("zh_conversation", "zh", parts, conversation_pauses(rng, len(parts))), started)

    # 7. A second, held-out meeting in each language, by another espeak-ng speaker (a
    # woman's variant, a little faster), so no figure rests on one voice and one text.
    for lang in ["es", "fr", "de", "it", "pt"]:
        started = time.monotonic()
        parts = [voices.espeak(lang, t, REVIEW_VARIANT, REVIEW_WPM) for t in REVIEW[lang]]
        save(join(f"{lang}_review", lang, parts, conversation_pauses(rng, len(parts))),
             started)
    return _write_manifest(out_dir, rows)


def _write_manifest(out_dir: Path, rows: list[list[str]]) -> Path:
    path = out_dir / "manifest.tsv"
    lines = ["\t".join(COLUMNS), *("\t".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--quick", action="store_true", help="two short files, for CI")
    parser.add_argument("--seed", type=int, default=0, help="pauses and noise (default 0)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    manifest = build_material(args.out_dir, args.quick, args.seed)
    print(f"wrote {manifest} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
