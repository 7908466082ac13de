"""The pivot router: which chain of engines turns one language into another."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bot.config_file import TranslationModel
from bot.languages import NAMES
from bot.mt.base import TextTranslator, TranslationError

# Pivots in order of preference when two paths are equally short: the pairs
# Apertium ships are densest around Spanish and English, and English is the better hub.
PIVOTS = ("en", "es")
SPEECH_TO_ENGLISH = "whisper:translate"


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    hops: tuple[str, ...]  # engine names of the text steps, applied in order
    via_speech: bool = False  # first Whisper's speech->English task, then `hops` from "en"

    @property
    def engine(self) -> str:
        """What the caption's `engine` field says, e.g. "apertium:fr-es>apertium:spa-eng"."""
        steps = ((SPEECH_TO_ENGLISH,) if self.via_speech else ()) + self.hops
        return ">".join(steps) or "noop"


class NoRoute(LookupError):
    """No chain of engines reaches the target; the message lists the targets that work."""


class TranslationRouter:
    """Picks a route per (source, target) and applies its text hops."""

    def __init__(self, translators: Iterable[TextTranslator], speech_to_english: bool = True,
                 max_hops: int = 3) -> None:
        self._by_pair: dict[tuple[str, str], TextTranslator] = {}
        for translator in translators:
            self._by_pair.setdefault((translator.source, translator.target), translator)
        self._by_engine = {t.engine: t for t in self._by_pair.values()}
        self._speech_to_english = speech_to_english
        self._max_hops = max_hops

    @classmethod
    def from_system(cls, modes_dir: Path | None = None,
                    neural: Sequence[TranslationModel] = (),
                    translators: Sequence[TextTranslator] = ()) -> TranslationRouter:
        """The configured CTranslate2 models, then one Apertium translator per installed pair.

        Order is preference for a pair more than one engine serves: a model made for that
        one pair (Marian), then a multilingual model, then Apertium. A multilingual model's
        direct pair also beats any pivot, because the shortest path wins. Loading a
        CTranslate2 model reads it into memory; Apertium starts no process until used.
        `translators`: ready ones that go first (a cluster's translation deployment).
        """
        from bot.mt.apertium import ApertiumTranslator, installed_pairs

        translators = list(translators)
        if neural:
            from bot.mt.ctranslate2 import models_from

            models = sorted(models_from(neural), key=lambda model: model.multilingual)
            translators.extend(t for model in models for t in model.translators())
        translators.extend(
            ApertiumTranslator(mode, source, target, modes_dir=modes_dir)
            for (source, target), mode in installed_pairs(modes_dir).items()
        )
        return cls(translators)

    def translator(self, source: str, target: str) -> TextTranslator | None:
        """The engine this router uses for one direct pair, if any."""
        return self._by_pair.get((source, target))

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._by_pair)

    def route(self, source: str, target: str) -> Route:
        found = self._find(source, target)
        if found is None:
            reachable = ", ".join(self.reachable(source)) or "nothing"
            raise NoRoute(f"no translation path from {source} to {target}; "
                          f"reachable from {source}: {reachable}")
        return found

    def reachable(self, source: str) -> list[str]:
        candidates = {lang for pair in self._by_pair for lang in pair} | {"en"}
        return [t for t in sorted(candidates - {source}) if self._find(source, t) is not None]

    def translate(self, route: Route, text: str) -> str:
        """Apply the route's text hops; for a via-speech route `text` is Whisper's English."""
        for engine in route.hops:
            translator = self._by_engine.get(engine)
            if translator is None:
                raise TranslationError(f"{engine} is not one of this router's engines")
            text = translator.translate(text)
        return text

    def warm_up(self, routes: Iterable[Route] | None = None) -> None:
        """Start the engines of these routes (all when None): Apertium's first sentence
        costs 35-150 ms to load a pair, which must not land on a live caption."""
        engines = ({e for r in routes for e in r.hops} if routes is not None
                   else set(self._by_engine))
        for engine in sorted(engines):
            translator = self._by_engine.get(engine)
            if translator is None:
                continue
            # A multilingual model serves dozens of pairs: it warms up once, not per pair.
            warm_up = getattr(translator, "warm_up", None)
            try:
                if warm_up is not None:
                    warm_up()
                else:
                    translator.translate("Hello.")
            except TranslationError:
                continue  # the live caption will report it

    def close(self) -> None:
        for translator in self._by_pair.values():
            translator.close()

    def _find(self, source: str, target: str) -> Route | None:
        if source == target:
            return Route(source, target, ())
        path = self._text_path(source, target)
        if path is not None:
            return Route(source, target, path)
        # Whisper translates speech, never text: only worth it when no text path exists.
        if self._speech_to_english and source in NAMES and source != "en":
            from_english = () if target == "en" else self._text_path("en", target)
            if from_english is not None:
                return Route(source, target, from_english, via_speech=True)
        return None

    def _text_path(self, source: str, target: str) -> tuple[str, ...] | None:
        """Engine names of the shortest text path within max_hops, pivots preferred on ties."""
        frontier: list[tuple[str, ...]] = [(source,)]
        for _ in range(self._max_hops):
            arrived = []
            extended = []
            for langs in frontier:
                for start, end in self._by_pair:
                    if start != langs[-1] or end in langs:
                        continue
                    (arrived if end == target else extended).append(langs + (end,))
            if arrived:
                best = min(arrived, key=lambda langs: [_pivot_rank(x) for x in langs[1:-1]])
                return tuple(self._by_pair[pair].engine for pair in pairwise(best))
            frontier = extended
        return None


def _pivot_rank(lang: str) -> tuple[int, str]:
    return (PIVOTS.index(lang) if lang in PIVOTS else len(PIVOTS), lang)
