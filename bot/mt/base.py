"""The one interface every text translator sits behind."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

# Set while a final caption is translated (bot/pipeline/interpreter.py): engines that queue
# requests (the CTranslate2 batcher) serve finals before interims, as the recognition
# scheduler does. A context variable, because it must reach the engine's worker thread
# through the router and the phrase-keeping split without changing every signature.
URGENT: ContextVar[bool] = ContextVar("interpres_translation_urgent", default=False)


class TranslationError(RuntimeError):
    """One text could not be translated; the caller drops that caption, never the session."""


class TextTranslator(Protocol):
    engine: str  # engine-prefixed, e.g. "apertium:spa-eng" (the Apertium mode name)
    source: str  # ISO 639-1
    target: str  # ISO 639-1

    def translate(self, text: str) -> str:
        """One line of `target` text for one line of `source` text; empty text gives "".

        Synchronous and thread-safe: bot/workers.py calls it from a pool thread.
        Raises TranslationError.
        """
        ...

    def close(self) -> None:
        """Release processes or models; a later `translate` may start them again."""
        ...
