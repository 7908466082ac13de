"""Per-speaker language choice: fixed, or automatic within an allowed set with hysteresis.

Whisper's language probabilities for one short or noisy utterance are unreliable, so one
utterance must not flip a speaker's language. The tracker smooths the evidence across
utterances and switches only when a challenger clearly leads, or is near certain.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class LanguageTracker:
    """Attributes:
    fixed: the speaker's declared language, or None for automatic.
    allowed: languages automatic detection may pick (empty: any).
    smoothing: weight of the past in the running score (0: no memory).
    margin: how far a challenger's score must lead the current language to switch.
    certain: a single utterance at or above this probability switches at once.
    """

    fixed: str | None = None
    allowed: tuple[str, ...] = ()
    smoothing: float = 0.6
    margin: float = 0.25
    certain: float = 0.97
    current: str | None = None
    utterances_seen: int = 0
    _scores: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fixed:
            self.current = self.fixed

    @property
    def forced(self) -> str | None:
        """The language to force on a decode, or None when it must be detected."""
        return self.fixed

    def peek(self, probs: dict[str, float], weight: float = 1.0) -> str:
        """What `observe` would return, without remembering anything."""
        return copy.deepcopy(self).observe(probs, weight)

    def observe(self, probs: dict[str, float], weight: float = 1.0) -> str:
        """Feed one utterance's language probabilities; return the language to use for it.

        `weight` (0..1) lets a short utterance count for less.
        """
        if self.fixed:
            return self.fixed
        self.utterances_seen += 1
        if self.allowed:
            probs = {lang: p for lang, p in probs.items() if lang in self.allowed}
        if not probs:
            return self.current or (self.allowed[0] if self.allowed else "en")
        keep = 1.0 - (1.0 - self.smoothing) * weight
        for lang in set(self._scores) | set(probs):
            self._scores[lang] = keep * self._scores.get(lang, 0.0) + (1 - keep) * probs.get(
                lang, 0.0)
        best = max(probs, key=probs.__getitem__)
        if self.current is None:
            self.current = best
        elif best != self.current:
            leader = max(self._scores, key=self._scores.__getitem__)
            lead = self._scores[leader] - self._scores.get(self.current, 0.0)
            if probs[best] >= self.certain and weight >= 0.5:
                self.current = best
            elif leader != self.current and lead >= self.margin:
                self.current = leader
        return self.current
