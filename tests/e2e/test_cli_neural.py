"""The neural engines as a user meets them: `--config interpres.toml` with test-built models,
then `interpres translate`, `models`, `doctor` and `models pull` as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.clips import clip
from bench.tiny_models import LEOPARD_FR
from tests.e2e.test_cli_translate import interpres, read_jsonl, wav_rms

pytestmark = pytest.mark.slow


def test_translate_uses_the_configured_engines(tiny_models: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = interpres("--config", str(tiny_models), "translate",
                       str(clip("en_leopard_test").path), "--to", "fr,de", "--out", str(out),
                       "--fast")
    assert result.returncode == 0, result.stderr
    assert "loading 2 CTranslate2 translation model(s)" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    # The Marian model for en>fr, the multilingual one for en>de (Apertium has no German).
    assert {"ctranslate2:opus-mt-en-fr", "ctranslate2:tiny-m2m100:en-de"} <= set(
        summary["engines"])
    assert set(summary["voices"]) == {"coqui:tiny-vits-fr", "coqui:tiny-vits-multi"}
    captions = [e for e in read_jsonl(out / "captions.jsonl") if e["type"] == "caption"]
    french = [e for e in captions if e["final"] and e["lang"] == "fr"]
    assert {e["engine"] for e in french} == {"ctranslate2:opus-mt-en-fr"}
    # The tiny model learned this clip's sentence: a real translation, end to end.
    assert " ".join(e["text"] for e in french) == LEOPARD_FR
    speech = [e for e in read_jsonl(out / "captions.jsonl") if e["type"] == "speech"]
    assert {e["voice"] for e in speech} >= {"coqui:tiny-vits-fr"}
    rms, rate = wav_rms(out / "fr.wav")
    assert rate == 48000 and rms > 1e-3


def test_models_and_doctor_show_configured_engines(tiny_models: Path) -> None:
    listed = interpres("--config", str(tiny_models), "models")
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert f"configuration: {tiny_models}" in text
    for expected in ("ctranslate2:opus-mt-en-fr", "en>fr [configured, marian, cpu/float32",
                     "ctranslate2:tiny-m2m100", "en fr de [configured, m2m100",
                     "coqui:tiny-vits-fr", "coqui:tiny-vits-multi", "de [configured, speaker bob]",
                     "piper:en_GB-copy-medium", "apertium:eng-spa", "faster-whisper:base"):
        assert expected in text, expected
    doctor = interpres("--config", str(tiny_models), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = doctor.stdout
    assert "Translation (CTranslate2, configured)" in report
    assert "m2m100, cpu/float32, beam 2; 3 languages: en fr de; used for 5 pair(s)" in report
    assert "fr=ctranslate2:opus-mt-en-fr" in report
    assert "de=ctranslate2:tiny-m2m100:en-de" in report
    assert "coqui:tiny-vits-fr, espeak-ng:fr" in report


def test_no_config_is_the_embedded_default() -> None:
    listed = interpres("models")
    assert listed.returncode == 0, listed.stderr
    assert "configuration: none" in listed.stdout
    assert "ctranslate2" not in listed.stdout and "coqui" not in listed.stdout
    doctor = interpres("doctor")
    assert "configuration: none" in doctor.stdout
    assert "CTranslate2" not in doctor.stdout
    assert "fr=apertium:eng-spa>apertium:es-fr" in doctor.stdout


def test_a_broken_config_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "interpres.toml"
    bad.write_text("[[translation]]\npath = 'nowhere'\n")
    result = interpres("--config", str(bad), "translate", str(clip("en_leopard_test").path),
                       "--to", "fr", "--fast", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "interpres: error:" in result.stderr and "Traceback" not in result.stderr
    assert "nowhere: no CTranslate2 model here (looked for model.bin)" in result.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text("[asr]\nmodle = 'small'\n")
    result = interpres("--config", str(typo), "models")
    assert result.returncode == 2
    assert "[asr] modle is not a known setting here" in result.stderr


def test_pull_fails_clearly_offline(tmp_path: Path) -> None:
    # This machine has no internet but PyPI: the one downloading command must say so.
    result = interpres("models", "pull", "small", env={"INTERPRES_MODELS_DIR": str(tmp_path)},
                       timeout=60)
    assert result.returncode == 2
    assert "cannot fetch Systran/faster-whisper-small" in result.stderr
    assert "looks offline" in result.stderr
    assert str(tmp_path / "faster-whisper-small") in result.stderr
    assert not any(tmp_path.iterdir())
    unknown = interpres("models", "pull", "enormous")
    assert unknown.returncode == 2 and "unknown model 'enormous'" in unknown.stderr


def test_serve_refuses_a_config_whose_models_are_missing(tmp_path: Path) -> None:
    bad = tmp_path / "interpres.toml"
    bad.write_text("[[translation]]\npath = 'nowhere'\n[[voices.coqui]]\npath = 'nope'\n"
                   "lang = 'fr'\n")
    result = interpres("--config", str(bad), "serve", "--port", "0", timeout=60)
    assert result.returncode == 2
    assert "the configured models cannot be used" in result.stderr
    assert "ctranslate2:nowhere" in result.stderr and "coqui:nope: no config.json" in result.stderr


def test_readyz_reports_models_that_fail_to_load(tmp_path: Path) -> None:
    """A voice whose files look right but do not load: the loader's error reaches /readyz."""
    import asyncio
    import urllib.error
    import urllib.request
    from dataclasses import replace

    from bot.config_file import CoquiVoiceModel
    from bot.server import create_app
    from tests.conftest import loopback_config
    from tests.server_runner import running_server

    broken = tmp_path / "broken-voice"
    broken.mkdir()
    (broken / "config.json").write_text('{"model": "vits"}')
    (broken / "model.pth").write_bytes(b"not a checkpoint")
    config = replace(loopback_config(),
                     coqui_voices=(CoquiVoiceModel(path=broken, lang="fr"),))

    def readyz(url: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    async def main() -> dict:
        async with running_server(create_app(config)) as url:
            for _ in range(600):
                status, body = await asyncio.to_thread(readyz, url)
                if body["status"] != "loading models":
                    assert status == 503
                    return body
                await asyncio.sleep(0.1)
        raise AssertionError("still loading after 60 s")

    body = asyncio.run(main())
    assert body["status"] == "failed"
    assert "coqui voice" in body["error"] and "broken-voice" in body["error"]
