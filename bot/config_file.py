"""interpres.toml: the models a deployment brings (ASR, translation, voices), read and checked.

Everything here is optional: with no file, Interpres runs on the embedded default. The file
only declares; nothing is loaded or downloaded while reading it. Mistakes are reported with
the file, the table and the key, and what would be accepted instead.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import languages
from bot.phrases import Phrase, PhraseError, parse_phrases

LAYOUTS = ("marian", "m2m100", "nllb")
DEVICES = ("cpu", "cuda", "auto")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and what to write."""


@dataclass(frozen=True)
class TranslationModel:
    """One CTranslate2 translation directory ([[translation]])."""

    path: Path
    # "marian" (one pair), "m2m100" or "nllb" (multilingual); None: detected from the files.
    layout: str | None = None
    # Marian: the pair; None: read from a directory name like "opus-mt-en-fr".
    source: str | None = None
    target: str | None = None
    # Multilingual: the languages to use; empty: every language of the model Interpres knows.
    languages: tuple[str, ...] = ()
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 2


@dataclass(frozen=True)
class CoquiVoiceModel:
    """One coqui-tts model directory ([[voices.coqui]]): config.json plus model.pth."""

    path: Path
    # Single-language models: the language it speaks. Multilingual: `languages`.
    lang: str | None = None
    languages: tuple[str, ...] = ()
    # Multi-speaker models: the speaker's name, or a reference recording (XTTS and the like).
    speaker: str | None = None
    speaker_wav: Path | None = None
    device: str = "cpu"  # "cuda" runs it on the GPU (torch's CUDA build)


@dataclass(frozen=True)
class FileSettings:
    path: Path
    models_dir: Path | None = None
    # model, interim_model, device, compute_type; lanes, threads (whole numbers, as text);
    # interim_copy ("on" or "off"); lead_seconds (seconds, as text)
    asr: dict[str, str] = field(default_factory=dict)
    # [asr] allowed: the languages automatic detection may choose (besides the room's own)
    asr_allowed: tuple[str, ...] = ()
    translation: tuple[TranslationModel, ...] = ()
    piper_dir: Path | None = None
    coqui: tuple[CoquiVoiceModel, ...] = ()
    # [janus]: url, room, pin, api_secret, token, to (what `interpres join janus` defaults to),
    # public_url (Janus's API as browsers reach it, when not `url`),
    # leave_after (seconds a bot `interpres serve` started stays in a room nobody is in)
    janus: dict[str, Any] = field(default_factory=dict)
    # [[phrases]]: the phrase list every room starts with (term, say, renderings per language)
    phrases: tuple[Phrase, ...] = ()
    # [cluster]: address ("auto", "ray://head:10001", "head:6379") puts Janus room bots and
    # recognition on a Ray cluster; asr_min_replicas, asr_max_replicas, asr_target_requests
    # (Serve autoscaling), asr_num_cpus, asr_num_gpus (per recognition replica),
    # deploy_recognition = false when a KubeRay RayService deploys recognition instead;
    # mt_replicas, mt_num_cpus, mt_num_gpus for the [[translation]] models' deployment
    cluster: dict[str, Any] = field(default_factory=dict)


_TOP = {"models_dir", "asr", "translation", "voices", "janus", "phrases", "cluster"}
_CLUSTER_NUMBERS = {"asr_min_replicas", "asr_max_replicas", "asr_target_requests",
                    "asr_num_cpus", "asr_num_gpus", "mt_replicas", "mt_num_cpus", "mt_num_gpus"}
_JANUS = {"url", "public_url", "room", "pin", "api_secret", "token", "to", "leave_after"}
_ASR = {"model", "interim_model", "device", "compute_type"}
_ASR_LISTS = {"allowed"}
_ASR_COUNTS = {"lanes", "threads"}
_ASR_SWITCHES = {"interim_copy"}
_ASR_SECONDS = {"lead_seconds"}
# A final decode first hears up to this much of the speaker's last utterances: 12 s kept
# utterance end -> final p95 under 2 s on a 3-minute monologue (1.48 s); 20 s was more
# accurate (-1.4 WER points on our material) but 2.28 s (README, "Accuracy").
LEAD_SECONDS = 12.0
# Whisper hears 30 s at once: a longer lead could never be used whole.
MAX_LEAD_SECONDS = 30.0
LEAD_SECONDS_HELP = f"use seconds from 0 (no lead) to {MAX_LEAD_SECONDS:g}, e.g. 12"
_TRANSLATION = {"path", "layout", "source", "target", "languages", "device", "compute_type",
                "beam_size"}
_VOICES = {"piper_dir", "coqui"}
_COQUI = {"path", "lang", "languages", "speaker", "speaker_wav", "device"}


def read(path: str | Path) -> FileSettings:
    """Parse and check one interpres.toml; paths in it are relative to models_dir, then to it."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist (from INTERPRES_CONFIG "
                          "or --config)") from None
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    here = _Table(path, "", data)
    here.only(_TOP)
    base = path.parent.resolve()
    models_dir = here.path("models_dir", base)
    # Model paths resolve against models_dir when it is set, else against the file's folder.
    model_base = models_dir or base

    asr_table = here.table("asr")
    asr_table.only(_ASR | _ASR_LISTS | _ASR_COUNTS | _ASR_SWITCHES | _ASR_SECONDS)
    asr = {key: asr_table.string(key) for key in _ASR if key in asr_table.data}
    for key in sorted(_ASR_COUNTS & set(asr_table.data)):
        asr[key] = str(asr_table.count(key))
    for key in sorted(_ASR_SWITCHES & set(asr_table.data)):
        if not isinstance(asr_table.data[key], bool):
            raise asr_table.error(key, "must be true or false")
        asr[key] = "on" if asr_table.data[key] else "off"
    for key in sorted(_ASR_SECONDS & set(asr_table.data)):
        value = asr_table.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                lead_seconds(str(value)) is None:
            raise asr_table.error(key, f"is {value!r}; {LEAD_SECONDS_HELP}")
        asr[key] = str(float(value))
    if asr.get("device") and asr["device"] not in DEVICES:
        raise asr_table.error("device", f"is {asr['device']!r}; use one of {', '.join(DEVICES)}")

    translation = tuple(_translation(table, model_base)
                        for table in here.tables("translation"))
    voices = here.table("voices")
    voices.only(_VOICES)
    coqui = tuple(_coqui(table, model_base) for table in voices.tables("coqui"))
    janus = here.table("janus")
    janus.only(_JANUS)
    janus_settings: dict[str, Any] = {key: janus.string(key) for key in
                                      ("url", "public_url", "pin", "api_secret", "token")
                                      if key in janus.data}
    if "room" in janus.data:
        room = janus.data["room"]
        if not isinstance(room, int) or isinstance(room, bool) or room <= 0:
            raise janus.error("room", f"is {room!r}; use the room's number, e.g. 1234")
        janus_settings["room"] = room
    if "to" in janus.data:
        janus_settings["to"] = janus.language_list("to")
    if "leave_after" in janus.data:
        delay = janus.data["leave_after"]
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay <= 0:
            raise janus.error("leave_after", f"is {delay!r}; use seconds, e.g. 180")
        janus_settings["leave_after"] = float(delay)
    cluster = here.table("cluster")
    cluster.only(_CLUSTER_NUMBERS | {"address", "deploy_recognition"})
    cluster_settings: dict[str, Any] = {"address": cluster.string("address")} if (
        "address" in cluster.data) else {}
    for key in sorted(_CLUSTER_NUMBERS & set(cluster.data)):
        value = cluster.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise cluster.error(key, f"is {value!r}; use a number, e.g. 1")
        cluster_settings[key] = value
    if "deploy_recognition" in cluster.data:
        if not isinstance(cluster.data["deploy_recognition"], bool):
            raise cluster.error("deploy_recognition", "must be true or false")
        cluster_settings["deploy_recognition"] = cluster.data["deploy_recognition"]
    try:
        phrases = parse_phrases([table.data for table in here.tables("phrases")])
    except PhraseError as problem:
        raise ConfigError(f"{path}: [[phrases]] {problem}") from None
    return FileSettings(path=path, models_dir=models_dir, asr=asr, phrases=phrases,
                        asr_allowed=asr_table.language_list("allowed"), translation=translation,
                        piper_dir=voices.path("piper_dir", model_base), coqui=coqui,
                        janus=janus_settings, cluster=cluster_settings)


def _translation(table: _Table, base: Path) -> TranslationModel:
    table.only(_TRANSLATION)
    layout = table.string("layout") or None
    if layout and layout not in LAYOUTS:
        raise table.error("layout", f"is {layout!r}; use one of {', '.join(LAYOUTS)} "
                                    "(or leave it out to detect it)")
    device = table.string("device") or "cpu"
    if device not in DEVICES:
        raise table.error("device", f"is {device!r}; use one of {', '.join(DEVICES)}")
    beam = table.data.get("beam_size", 2)
    if not isinstance(beam, int) or isinstance(beam, bool) or not 1 <= beam <= 16:
        raise table.error("beam_size", f"is {beam!r}; use a whole number from 1 to 16")
    return TranslationModel(
        path=table.required_path("path", base), layout=layout,
        source=table.language("source"), target=table.language("target"),
        languages=table.language_list("languages"), device=device,
        compute_type=table.string("compute_type") or "int8", beam_size=beam)


def _coqui(table: _Table, base: Path) -> CoquiVoiceModel:
    table.only(_COQUI)
    voice = CoquiVoiceModel(
        path=table.required_path("path", base), lang=table.language("lang"),
        languages=table.language_list("languages"), speaker=table.string("speaker") or None,
        speaker_wav=table.path("speaker_wav", base), device=table.string("device") or "cpu")
    if voice.device not in ("cpu", "cuda"):
        raise table.error("device", f"is {voice.device!r}; use cpu or cuda")
    if not voice.lang and not voice.languages:
        raise table.error("lang", "is missing: say which language the voice speaks "
                                  '(lang = "fr"), or languages = [...] for a multilingual model')
    return voice


class _Table:
    """One TOML table and where it sits, so every error can name file, table and key."""

    def __init__(self, file: Path, where: str, data: Any) -> None:
        self.file, self.where, self.data = file, where, data
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: [{where}] must be a table")

    def error(self, key: str, problem: str) -> ConfigError:
        place = f"[{self.where}] " if self.where else ""
        return ConfigError(f"{self.file}: {place}{key} {problem}")

    def only(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                raise self.error(key, f"is not a known setting here; known: "
                                      f"{', '.join(sorted(known))}")

    def table(self, key: str) -> _Table:
        where = f"{self.where}.{key}" if self.where else key
        return _Table(self.file, where, self.data.get(key, {}))

    def tables(self, key: str) -> list[_Table]:
        items = self.data.get(key, [])
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise self.error(key, f"must be a list of tables ([[{key}]])")
        where = f"{self.where}.{key}" if self.where else key
        return [_Table(self.file, f"{where} #{n}", item)
                for n, item in enumerate(items, start=1)]

    def string(self, key: str) -> str:
        value = self.data.get(key, "")
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {value!r}")
        return value.strip()

    def count(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(key, f"is {value!r}; use a whole number from 1, e.g. 2")
        return value

    def path(self, key: str, base: Path) -> Path | None:
        value = self.string(key)
        return (base / Path(value).expanduser()) if value else None

    def required_path(self, key: str, base: Path) -> Path:
        found = self.path(key, base)
        if found is None:
            raise self.error(key, "is missing: the model's directory")
        return found

    def language(self, key: str) -> str | None:
        value = self.string(key)
        if not value:
            return None
        try:
            return languages.normalize(value)
        except languages.UnknownLanguage as error:
            raise self.error(key, f"is not a language Interpres knows: {error}") from None

    def language_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f'must be a list of language codes like ["en", "fr"], '
                                  f"not {value!r}")
        try:
            return tuple(dict.fromkeys(languages.normalize(v) for v in value))
        except languages.UnknownLanguage as error:
            raise self.error(key, f"has a language Interpres does not know: {error}") from None


def lead_seconds(text: str) -> float | None:
    """How much of the speaker's last utterances a final decode hears first (see
    bot.pipeline.lead), from 0 (none) to MAX_LEAD_SECONDS; None if `text` is not that."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= MAX_LEAD_SECONDS else None
