"""The one interface every text translator sits behind."""

from __future__ import annotations

from typing import Protocol


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
