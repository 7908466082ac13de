"""Transcript scoring shared by the benchmarks: Whisper's normalisers, then WER or CER.

    score("Ask not, what twenty...", "ask not what 20", "en")  ->  Score(errors=1, length=5)

English goes through Whisper's EnglishTextNormalizer (numbers, spellings, contractions: "20"
and "twenty" are the same word); every other language through its BasicTextNormalizer
(case, punctuation and symbols). Languages written without spaces (`CHARACTER_SCRIPTS`) are
scored by characters (CER), the rest by words (WER). A `Score` keeps errors and reference
length, so rates over many clips are weighted by errors, not averaged per clip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

from bot.languages import CHARACTER_SCRIPTS

# Said in every report, so nobody reads a Chinese CER as script-insensitive.
NOTES = (
    "Chinese: traditional and simplified characters are not folded (no small pure-Python "
    "converter is a dependency); the pipeline's Mandarin prompt asks Whisper for simplified.",
    "Non-English text keeps combining marks (BasicTextNormalizer(preserve_marks=True)): "
    "Whisper's default drops them, which erases vowels of Thai and Indic scripts.",
)


@dataclass(frozen=True)
class Score:
    """Edit distance of a hypothesis from a reference, in words or characters.

    Attributes:
      errors: substitutions + deletions + insertions.
      length: units in the (normalised) reference.
    """

    errors: int
    length: int

    @property
    def rate(self) -> float:
        """errors / length; above 1 when the hypothesis inserts more than the reference has."""
        return self.errors / self.length if self.length else float(self.errors > 0)

    def __add__(self, other: Score) -> Score:
        return Score(self.errors + other.errors, self.length + other.length)


def metric(language: str) -> str:
    return "CER" if language in CHARACTER_SCRIPTS else "WER"


@cache
def normaliser(language: str) -> Callable[[str], str]:
    if language == "en":
        return EnglishTextNormalizer()
    return BasicTextNormalizer(preserve_marks=True)


def units(text: str, language: str) -> list[str]:
    """The normalised text as the units it is scored in: words, or characters."""
    normalised = normaliser(language)(text)
    if language in CHARACTER_SCRIPTS:
        return [ch for ch in normalised if not ch.isspace()]
    return normalised.split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over units (substitution, deletion, insertion each cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def score(reference: str, hypothesis: str, language: str) -> Score:
    ref = units(reference, language)
    return Score(edit_distance(ref, units(hypothesis, language)), len(ref))


def total(scores: Iterable[Score]) -> Score:
    return sum(scores, Score(0, 0))
