"""`interpres models pull NAME`: the one command that downloads, and only when asked.

It fetches a faster-whisper model (tiny ... large-v3, turbo) or any Hugging Face repository
given as owner/name into the models directory, where `INTERPRES_ASR_MODEL=NAME` and
interpres.toml find it by name. Offline it fails at once with what to do instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

# Whisper sizes -> the CTranslate2 conversions faster-whisper itself downloads.
WHISPER_REPOS = {
    name: f"Systran/faster-whisper-{name}"
    for name in ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium",
                 "medium.en", "large-v1", "large-v2", "large-v3")
} | {
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
}
HUB_HOST = "huggingface.co"


class PullError(RuntimeError):
    """The model could not be fetched; the message says why and what to do instead."""


def repository(name: str) -> tuple[str, str]:
    """(repo id, directory name in the models directory) for a NAME given to `pull`."""
    if name in WHISPER_REPOS:
        return WHISPER_REPOS[name], f"faster-whisper-{name}"
    if name.count("/") == 1 and all(name.split("/")):
        return name, name.split("/")[1]
    known = ", ".join(WHISPER_REPOS)
    raise PullError(f"unknown model {name!r}: give a Whisper size ({known}) or a Hugging Face "
                    "repository as owner/name")


def pull(name: str, models_dir: Path, say: Callable[[str], None],
         host: str = HUB_HOST, timeout: float = 5.0) -> Path:
    repo_id, folder = repository(name)
    target = models_dir / folder
    offline = "huggingface.co cannot be reached"
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        offline = "HF_HUB_OFFLINE is set"
    else:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            offline = ""
        except OSError as error:
            offline = f"{host} cannot be reached ({error})"
    if offline:
        raise PullError(
            f"cannot fetch {repo_id}: {offline}; this machine looks offline. Copy the model "
            f"directory from a machine that has it into {target} instead (for Whisper: the "
            "files model.bin, config.json, tokenizer.json, vocabulary.*), then use it by "
            f"name: INTERPRES_ASR_MODEL={name if name in WHISPER_REPOS else folder}")
    from huggingface_hub import snapshot_download

    say(f"fetching {repo_id} into {target}")
    try:
        path = snapshot_download(repo_id, local_dir=target)
    except Exception as error:  # the hub raises many kinds; all mean "not fetched"
        raise PullError(f"cannot fetch {repo_id}: {type(error).__name__}: {error}") from None
    say(f"done: {path}")
    return Path(path)
