"""Configuration, read once from INTERPRES_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.auth import load_secret


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
    # Directory of extra Piper voices (*.onnx + *.onnx.json); "" for none.
    voices_dir: str
    # SQLite file for transcripts; "off" keeps them in memory only.
    transcripts: str
    retention_days: float | None
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

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ.get
        return cls(
            home=_home(),
            asr_model=env("INTERPRES_ASR_MODEL", "base"),
            asr_interim_model=env("INTERPRES_ASR_INTERIM_MODEL", ""),
            asr_device=env("INTERPRES_ASR_DEVICE", "cpu"),
            asr_compute_type=env("INTERPRES_ASR_COMPUTE_TYPE", "int8"),
            voices_dir=env("INTERPRES_VOICES_DIR", ""),
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
