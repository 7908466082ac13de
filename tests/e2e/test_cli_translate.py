"""`interpres translate` as a user runs it: a subprocess, real files, real models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from bench.clips import clip, normalise

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def interpres(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def wav_rms(path: Path) -> tuple[float, int]:
    with wave.open(str(path)) as handle:
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), np.int16)
    return float(np.sqrt(np.mean((data.astype(np.float32) / 32768) ** 2))), rate


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_translate_spanish_clip_writes_every_output(tmp_path):
    out = tmp_path / "o"
    result = interpres("translate", str(clip("es_leopard").path), "--to", "en,fr",
                       "--out", str(out), "--fast")
    assert result.returncode == 0, result.stderr
    for name in ["captions.jsonl", "summary.json", "es.vtt", "es.srt", "en.vtt", "en.srt",
                 "fr.vtt", "fr.srt", "en.wav", "fr.wav"]:
        assert (out / name).stat().st_size > 0, name
    events = read_jsonl(out / "captions.jsonl")
    captions = [e for e in events if e["type"] == "caption"]
    assert all({"segment", "rev", "final", "speaker", "source_lang", "lang", "text",
                "committed", "t0", "t1", "engine", "emitted_at"} <= e.keys() for e in captions)
    english = " ".join(e["text"] for e in captions if e["final"] and e["lang"] == "en")
    assert "sands" in english.lower()
    assert any(not e["final"] for e in captions)
    for lang in ("en", "fr"):
        rms, rate = wav_rms(out / f"{lang}.wav")
        assert rate == 48000 and rms > 0.005, lang
    assert "WEBVTT" in (out / "en.vtt").read_text() and "-->" in (out / "en.vtt").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engines"] and "apertium:spa-eng" in summary["engines"]
    assert summary["latency"]["utterance_end_to_final_source_caption_s"]["count"] >= 1
    assert summary["real_time_factor"]["asr_final"] > 0


def test_translate_realtime_shows_growing_interims_and_the_reference(tmp_path):
    jfk = clip("en_whisper_jfk")
    out = tmp_path / "o2"
    result = interpres("translate", str(jfk.path), "--to", "es", "--out", str(out),
                       "--realtime", "--no-speech")
    assert result.returncode == 0, result.stderr
    assert "…" in result.stderr  # interims are shown while it runs
    captions = [e for e in read_jsonl(out / "captions.jsonl") if e["type"] == "caption"]
    source = [e for e in captions if e["lang"] == "en"]
    finals = [e["text"] for e in source if e["final"]]
    assert normalise(" ".join(finals)) == normalise(jfk.reference)
    # Interims grow within a segment, and emission times follow the wall clock.
    first_segment = [e for e in source if e["segment"] == source[0]["segment"]]
    lengths = [len(e["committed"]) for e in first_segment]
    assert lengths == sorted(lengths)
    assert max(e["emitted_at"] for e in captions) >= jfk.duration - 1.0
    assert not (out / "es.wav").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["translate", "README.md", "--to", "es"], "not an audio file"),
    (["translate", "no/such/file.wav", "--to", "es"], "file not found"),
    (["translate", "{clip}", "--to", "xx"], "unknown language code 'xx'"),
    (["translate", "{clip}", "--from", "es", "--to", "de"], "no engine translates into de"),
    (["translate", "{clip}"], "required: --to"),
])
def test_translate_errors_are_clear(args, message):
    args = [a.replace("{clip}", str(clip("es_leopard").path)) for a in args]
    result = interpres(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_translate_with_a_missing_model_says_how_to_fix_it(tmp_path):
    result = interpres("translate", str(clip("es_leopard").path), "--to", "en",
                       env={"INTERPRES_ASR_MODEL": str(tmp_path / "nothing")})
    assert result.returncode == 2
    assert str(tmp_path / "nothing") in result.stderr and "INTERPRES_ASR_MODEL" in result.stderr
    assert "Traceback" not in result.stderr
