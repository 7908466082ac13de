"""The shared real-speech clips and their reference transcripts."""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

AUDIO_DIR = Path(os.environ.get("INTERPRES_SHARED_AUDIO",
                                Path(__file__).resolve().parents[2] / "shared" / "audio"))


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    duration: float
    reference: str


def clips() -> list[Clip]:
    with open(AUDIO_DIR / "manifest.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Clip(AUDIO_DIR / row["file"], row["language"], float(row["duration_s"]),
                 row["reference_transcript"]) for row in rows]


def clip(prefix: str) -> Clip:
    return next(c for c in clips() if c.path.name.startswith(prefix))


def normalise(text: str) -> str:
    """Case and punctuation folded, whitespace collapsed (enough to compare transcripts)."""
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch
                   for ch in text.casefold())
    return re.sub(r"\s+", " ", kept).strip()


def word_error_rate(reference: str, hypothesis: str, characters: bool = False) -> float:
    ref = list(normalise(reference).replace(" ", "")) if characters else normalise(
        reference).split()
    hyp = list(normalise(hypothesis).replace(" ", "")) if characters else normalise(
        hypothesis).split()
    # Levenshtein distance over units.
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(1, len(ref))
