"""Transcript scoring shared by the benchmarks: Whisper's normalisers, then WER or CER.

    score("Ask not, what twenty...", "ask not what 20", "en")  ->  Score(errors=1, length=5)

English goes through Whisper's EnglishTextNormalizer (numbers, spellings, contractions: "20"
and "twenty" are the same word); every other language through its BasicTextNormalizer
(case, punctuation and symbols). Languages written without spaces (`CHARACTER_SCRIPTS`) are
scored by characters (CER), the rest by words (WER). A `Score` keeps errors and reference
length, so rates over many clips are weighted by errors, not averaged per clip.
"""

from __future__ import annotations

import re
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


def unit_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> list[int]:
    """The edit distance spread over the reference: errors[i] counts reference unit i's
    substitution or deletion and the insertions right after it (leading insertions go to
    the first unit), so sum(errors) == edit_distance(reference, hypothesis)."""
    n, m = len(reference), len(hypothesis)
    if not n:
        return []
    table = [list(range(m + 1))]
    for i in range(1, n + 1):
        row = [i]
        for j in range(1, m + 1):
            row.append(min(table[i - 1][j] + 1, row[j - 1] + 1,
                           table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1])))
        table.append(row)
    errors, pending, i, j = [0] * n, 0, n, m
    while i or j:
        if i and j and table[i][j] == table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            errors[i - 1] += (reference[i - 1] != hypothesis[j - 1]) + pending
            pending, i, j = 0, i - 1, j - 1
        elif i and table[i][j] == table[i - 1][j] + 1:
            errors[i - 1] += 1 + pending
            pending, i = 0, i - 1
        else:  # an insertion: charged to the reference unit before it
            pending, j = pending + 1, j - 1
    errors[0] += pending
    return errors


def sentences(text: str, language: str) -> list[str]:
    """The reference cut after each sentence's end mark (., ?, !, and the full-width ones)."""
    cut = r"(?<=[.?!])\s+" if language not in CHARACTER_SCRIPTS else r"(?<=[。？！.?!])\s*"
    return [part for part in re.split(cut, text.strip()) if part]


def sentence_scores(reference: str, hypothesis: str, language: str) -> list[Score] | None:
    """The clip's score split by reference sentence, for intervals that resample sentences.

    None when the normaliser does not keep sentences apart (the sentences' units do not add
    up to the whole reference's), so a caller never splits a score it cannot split exactly.
    """
    ref = units(reference, language)
    lengths = [len(units(sentence, language)) for sentence in sentences(reference, language)]
    if sum(lengths) != len(ref):
        return None
    errors = unit_errors(ref, units(hypothesis, language))
    out, at = [], 0
    for length in lengths:
        out.append(Score(sum(errors[at:at + length]), length))
        at += length
    return out


def score(reference: str, hypothesis: str, language: str) -> Score:
    ref = units(reference, language)
    return Score(edit_distance(ref, units(hypothesis, language)), len(ref))


def total(scores: Iterable[Score]) -> Score:
    return sum(scores, Score(0, 0))
