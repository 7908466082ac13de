"""Configuration: interpres.toml (INTERPRES_CONFIG or --config) for models, then INTERPRES_*
environment variables, which override the file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import config_file, languages
from bot.auth import load_secret
from bot.config_file import LEAD_SECONDS, CoquiVoiceModel, TranslationModel
from bot.phrases import Phrase
from bot.turn import MAX_TTL, TurnServer


def _home() -> Path:
    explicit = os.environ.get("INTERPRES_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "interpres"


@dataclass(frozen=True)
class Config:
    home: Path
    # "base" (embedded, multilingual), "tiny.en" (embedded) or a faster-whisper model directory.
    asr_model: str
    # Model for interim decodes of English speech; "" means: use asr_model.
    asr_interim_model: str
    asr_device: str
    asr_compute_type: str
    # Languages automatic detection may always choose, besides those of the room's people.
    asr_allowed: tuple[str, ...]
    # Directory of extra Piper voices (*.onnx + *.onnx.json); "" for none.
    voices_dir: str
    # SQLite file for transcripts; "off" keeps them in memory only.
    transcripts: str
    retention_days: float | None
    # Whisper decodes run at once, and CTranslate2 threads each; 0: chosen from the device
    # and the cores (see recognition_lanes).
    asr_lanes: int = 0
    asr_threads: int = 0
    # With lanes on a CPU, interims decode on a second copy of the model whose threads yield
    # to the finals' (WhisperEngine background_nice). Off by default: three speakers on two
    # cores measured 1.95, 2.52 and 2.77 s final p95 with it, 1.98-2.05 s without.
    asr_interim_copy: bool = False
    # A final decode first hears up to this much of the speaker's last utterances (see
    # bot.pipeline.lead): more is more accurate and slower (README, "Latency").
    asr_lead_seconds: float = LEAD_SECONDS
    # Local addresses offered as ICE host candidates; empty: every interface.
    ice_addresses: tuple[str, ...] = ()
    # Audio packets the server's receivers buffer before playing (20 ms each; aiortc: 4).
    jitter_frames: int = 2
    # HS256 secret for join tokens; None: rooms are open (allowed on loopback only).
    token_secret: bytes | None = None
    # Origins (scheme://host[:port]) allowed to POST besides the page's own; "*": any.
    allowed_origins: tuple[str, ...] = ()
    # Joins per minute from one IP address (a burst of a quarter of it is allowed).
    joins_per_minute: int = 30
    max_room_size: int = 50
    max_peers: int = 200
    # Seconds without any data-channel message after which a peer is taken for gone.
    heartbeat_timeout: float = 8.0
    # The configuration file these settings came from (None: environment and defaults only).
    config_file: Path | None = None
    # Where model names (ASR) are looked up and `interpres models pull` puts what it fetches.
    models_dir: Path | None = None
    # CTranslate2 translation models and coqui-tts voices the file declares, best first.
    translation_models: tuple[TranslationModel, ...] = ()
    coqui_voices: tuple[CoquiVoiceModel, ...] = ()
    # TURN (coturn REST-API credentials): server URLs and shared secret; None: no TURN.
    turn: TurnServer | None = None
    # The file's [janus] table: defaults for `interpres join janus`.
    janus: dict[str, Any] = field(default_factory=dict)
    # The file's [[phrases]]: the phrase list a room starts with.
    phrases: tuple[Phrase, ...] = ()
    # The file's [cluster] table, INTERPRES_CLUSTER_ADDRESS over its address: with an
    # address, Janus room bots and recognition run on that Ray cluster (bot/cluster).
    cluster: dict[str, Any] = field(default_factory=dict)

    @property
    def model_root(self) -> Path:
        """models_dir, else INTERPRES_HOME/models (where the joined Whisper base lives too)."""
        return self.models_dir or self.home / "models"

    def recognition_lanes(self) -> tuple[int, int]:
        """(decodes at once, CTranslate2 threads per decode) for Whisper.

        On a CPU, two lanes of one thread each on two cores: one decode with two threads
        took longer than with one (0.45 against 0.29 s for a beam-5 final of 8.7 s on this
        2-core machine: the threads wait on each other whenever the other core is busy), and
        a second lane lets a final start while an interim runs (see bench.capacity). More
        cores go to the two lanes' threads. On a GPU one lane: batches are the lever there.
        """
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        lanes = self.asr_lanes or (1 if self.asr_device == "cuda" or cores < 2 else 2)
        threads = self.asr_threads or max(1, cores // lanes)
        return lanes, threads

    @classmethod
    def from_env(cls) -> Config:
        """The file named by INTERPRES_CONFIG (if any), overridden by the environment.

        Raises config_file.ConfigError when that file is missing or wrong.
        """
        env = os.environ.get
        path = env("INTERPRES_CONFIG", "").strip()
        file = config_file.read(path) if path else config_file.FileSettings(Path())
        asr = file.asr
        models_dir = env("INTERPRES_MODELS_DIR", "").strip()
        piper_dir = str(file.piper_dir) if file.piper_dir else ""
        return cls(
            home=_home(),
            asr_model=env("INTERPRES_ASR_MODEL") or asr.get("model") or "base",
            asr_interim_model=env("INTERPRES_ASR_INTERIM_MODEL", asr.get("interim_model", "")),
            asr_device=env("INTERPRES_ASR_DEVICE") or asr.get("device") or "cpu",
            asr_compute_type=env("INTERPRES_ASR_COMPUTE_TYPE") or asr.get("compute_type")
            or "int8",
            asr_allowed=_allowed_languages(file.asr_allowed),
            asr_lanes=_count("INTERPRES_ASR_LANES", asr.get("lanes", "0")),
            asr_threads=_count("INTERPRES_ASR_THREADS", asr.get("threads", "0")),
            asr_interim_copy=_switch("INTERPRES_ASR_INTERIM_COPY",
                                     asr.get("interim_copy", "off")),
            asr_lead_seconds=_lead_seconds(asr.get("lead_seconds", str(LEAD_SECONDS))),
            voices_dir=env("INTERPRES_VOICES_DIR", piper_dir),
            config_file=file.path if path else None,
            models_dir=Path(models_dir).expanduser() if models_dir else file.models_dir,
            translation_models=file.translation,
            coqui_voices=file.coqui,
            janus=_janus(file.janus),
            phrases=file.phrases,
            cluster=_cluster(file.cluster),
            turn=_turn(),
            transcripts=env("INTERPRES_TRANSCRIPTS", str(_home() / "transcripts.sqlite3")),
            retention_days=float(env("INTERPRES_RETENTION_DAYS", "0")) or None,
            ice_addresses=tuple(a.strip() for a in env("INTERPRES_ICE_ADDRESSES", "").split(",")
                                if a.strip()),
            jitter_frames=int(env("INTERPRES_JITTER_FRAMES", "2")),
            token_secret=load_secret(),
            allowed_origins=tuple(o.strip().rstrip("/") for o in
                                  env("INTERPRES_ALLOWED_ORIGINS", "").split(",") if o.strip()),
            joins_per_minute=int(env("INTERPRES_JOINS_PER_MINUTE", "30")),
            max_room_size=int(env("INTERPRES_MAX_ROOM_SIZE", "50")),
            max_peers=int(env("INTERPRES_MAX_PEERS", "200")),
            heartbeat_timeout=float(env("INTERPRES_HEARTBEAT_TIMEOUT", "8")),
        )


def _count(variable: str, from_file: str) -> int:
    """A whole number from 1 in the environment variable, else the file's (0: unset)."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return int(from_file)
    if not text.isdigit() or int(text) < 1:
        raise config_file.ConfigError(f"{variable} is {text!r}; use a whole number from 1, "
                                      "e.g. 2")
    return int(text)


def _switch(variable: str, from_file: str) -> bool:
    """on/off (1/0, true/false) from the environment variable, else the file's."""
    text = os.environ.get(variable, "").strip().lower() or from_file
    if text in ("on", "1", "true", "yes"):
        return True
    if text in ("off", "0", "false", "no"):
        return False
    raise config_file.ConfigError(f"{variable} is {text!r}; use on or off")


def _lead_seconds(from_file: str) -> float:
    """INTERPRES_LEAD_SECONDS over the file's [asr] lead_seconds (checked there)."""
    text = os.environ.get("INTERPRES_LEAD_SECONDS", "").strip()
    if not text:
        return float(from_file)
    value = config_file.lead_seconds(text)
    if value is None:
        raise config_file.ConfigError(f"INTERPRES_LEAD_SECONDS is {text!r}; "
                                      f"{config_file.LEAD_SECONDS_HELP}")
    return value


def _cluster(table: dict[str, Any]) -> dict[str, Any]:
    address = os.environ.get("INTERPRES_CLUSTER_ADDRESS", "").strip()
    return {**table, "address": address} if address else dict(table)


def _allowed_languages(from_file: tuple[str, ...]) -> tuple[str, ...]:
    """INTERPRES_ALLOWED_LANGUAGES (comma separated) over the file's [asr] allowed."""
    text = os.environ.get("INTERPRES_ALLOWED_LANGUAGES", "").strip()
    if not text:
        return from_file
    try:
        return tuple(languages.parse_list(text))
    except languages.UnknownLanguage as error:
        raise config_file.ConfigError(f"INTERPRES_ALLOWED_LANGUAGES: {error}") from None


def _turn() -> TurnServer | None:
    """INTERPRES_TURN_URLS + INTERPRES_TURN_SECRET (or _FILE); both or neither."""
    urls = tuple(u.strip() for u in os.environ.get("INTERPRES_TURN_URLS", "").split(",")
                 if u.strip())
    secret = os.environ.get("INTERPRES_TURN_SECRET", "")
    secret_file = os.environ.get("INTERPRES_TURN_SECRET_FILE", "")
    if secret_file:
        secret = Path(secret_file).read_text(encoding="utf-8").strip()
    if not urls and not secret:
        return None
    if not urls or not secret:
        raise config_file.ConfigError(
            "TURN needs both INTERPRES_TURN_URLS (e.g. turn:turn.example.org:3478) and "
            "INTERPRES_TURN_SECRET (coturn's static-auth-secret)")
    ttl = min(int(os.environ.get("INTERPRES_TURN_TTL", str(MAX_TTL))), MAX_TTL)
    return TurnServer(urls, secret.encode(), ttl)


def _janus(table: dict[str, Any]) -> dict[str, Any]:
    """The [janus] table, with INTERPRES_JANUS_URL, _PUBLIC_URL and _SECRET over it."""
    merged = dict(table)
    for key, variable in (("url", "INTERPRES_JANUS_URL"),
                          ("public_url", "INTERPRES_JANUS_PUBLIC_URL"),
                          ("api_secret", "INTERPRES_JANUS_SECRET")):
        if os.environ.get(variable):
            merged[key] = os.environ[variable]
    return merged
