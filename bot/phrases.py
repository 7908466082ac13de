"""A room's phrase list: names and terms that recognition should prefer, translation must
keep (or map exactly) and the voice must say as given.

A phrase is `{"term": "Karvonix", "fr": "Karvonix", "es": "Carvónix", "say": "car vo nix"}`:
the term as written in captions of the language it is spoken in, optional renderings per
target language, and an optional spoken form for the voice.

- Recognition: the terms go into Whisper's previous-text prompt (what faster-whisper calls
  hotwords). On the base model a made-up name goes from "Carbonics" to "Karvonix".
- Translation: each term is replaced by a placeholder word no engine knows (Apertium copies
  unknown words, neural models mostly do), translated, and restored as the target's
  rendering. When an engine mangles a placeholder, the text is translated in pieces between
  the terms instead: worse grammar at the seams, but the term is exact.
- Speech: the rendering is replaced by the spoken form before synthesis.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.languages import NAMES

MAX_PHRASES = 100
MAX_TERM = 64  # characters of a term or a rendering
MAX_SAY = 128
# Whisper's prompt holds 223 tokens, shared with what the speaker just said.
MAX_PROMPT_CHARS = 300
# Placeholders: letters only (Apertium splits digits off a word), a start no language uses.
_PLACEHOLDER = "Zqx{}"
_PLACEHOLDER_FIND = re.compile(r"\bzqx([a-z]{1,2})\b", re.IGNORECASE)


class PhraseError(ValueError):
    """A phrase list that cannot be taken; the message says what to fix."""


@dataclass(frozen=True)
class Phrase:
    term: str
    renderings: dict[str, str] = field(default_factory=dict)
    say: str = ""

    def written(self, lang: str) -> str:
        return self.renderings.get(lang, self.term)

    def to_json(self) -> dict[str, str]:
        return {"term": self.term, **dict(sorted(self.renderings.items())),
                **({"say": self.say} if self.say else {})}


def _clean(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise PhraseError(f"{what} must be a string")
    text = " ".join(value.split())
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value):
        raise PhraseError(f"{what} contains control characters")
    if not text or len(text) > limit:
        raise PhraseError(f"{what} must be 1 to {limit} characters")
    return text


def parse_phrase(item: Any, index: int = 0) -> Phrase:
    where = f"phrase {index + 1}"
    if not isinstance(item, dict):
        raise PhraseError(f"{where} must be an object like {{\"term\": \"Interpres\"}}")
    if "term" not in item:
        raise PhraseError(f"{where} has no \"term\"")
    term = _clean(item["term"], f"{where}: term", MAX_TERM)
    say = _clean(item["say"], f"{where}: say", MAX_SAY) if "say" in item else ""
    renderings: dict[str, str] = {}
    for key, value in item.items():
        if key in ("term", "say"):
            continue
        if key not in NAMES:
            raise PhraseError(f"{where}: {str(key)[:20]!r} is neither term, say nor a "
                              "language code such as fr")
        renderings[key] = _clean(value, f"{where}: {key}", MAX_TERM)
    return Phrase(term, renderings, say)


def parse_phrases(body: Any) -> tuple[Phrase, ...]:
    """`[{...}, ...]` or `{"phrases": [...]}` as validated phrases, or PhraseError."""
    items = body.get("phrases") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise PhraseError('send a list of phrases: {"phrases": [{"term": "Interpres"}]}')
    if len(items) > MAX_PHRASES:
        raise PhraseError(f"at most {MAX_PHRASES} phrases (got {len(items)})")
    phrases = tuple(parse_phrase(item, i) for i, item in enumerate(items))
    seen: set[str] = set()
    for phrase in phrases:
        key = phrase.term.casefold()
        if key in seen:
            raise PhraseError(f"{phrase.term!r} is listed twice")
        seen.add(key)
    return phrases


def to_json(phrases: Iterable[Phrase]) -> list[dict[str, str]]:
    return [phrase.to_json() for phrase in phrases]


# -- recognition ----------------------------------------------------------------------------

def hotwords(phrases: Sequence[Phrase]) -> str:
    """The terms as a prompt ("Karvonix, Zorvatek."), within Whisper's prompt budget."""
    kept: list[str] = []
    size = 0
    for phrase in phrases:
        size += len(phrase.term) + 2
        if size > MAX_PROMPT_CHARS:
            break
        kept.append(phrase.term)
    return (", ".join(kept) + ".") if kept else ""


def _pattern(text: str) -> re.Pattern[str]:
    # Whole words only, any case, any run of spaces between a term's words.
    body = r"\s+".join(re.escape(part) for part in text.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def canonical(text: str, phrases: Sequence[Phrase]) -> str:
    """Terms written as listed: "karvonix" -> "Karvonix"."""
    for phrase in phrases:
        text = _pattern(phrase.term).sub(lambda _m, t=phrase.term: t, text)
    return text


# -- translation ----------------------------------------------------------------------------

def _tag(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[index] if index < 26 else letters[index // 26 - 1] + letters[index % 26]


def protect(text: str, phrases: Sequence[Phrase]) -> tuple[str, list[Phrase]]:
    """Each term in `text` replaced by a placeholder word; the phrases in placeholder order.
    Longer terms first, so "Karvonix Cloud" wins over "Karvonix"."""
    found: list[Phrase] = []
    for phrase in sorted(phrases, key=lambda p: -len(p.term)):
        def mark(_match: re.Match[str], phrase: Phrase = phrase) -> str:
            found.append(phrase)
            return _PLACEHOLDER.format(_tag(len(found) - 1))
        text = _pattern(phrase.term).sub(mark, text)
    return text, found


def restore(translated: str, found: Sequence[Phrase], target: str) -> str | None:
    """Placeholders back as the target's renderings; None when an engine lost, doubled or
    invented one (the caller then translates in pieces)."""
    tags = [m.group(1).lower() for m in _PLACEHOLDER_FIND.finditer(translated)]
    if sorted(tags) != sorted(_tag(i) for i in range(len(found))):
        return None
    by_tag = {_tag(i): phrase.written(target) for i, phrase in enumerate(found)}
    return _PLACEHOLDER_FIND.sub(lambda m: by_tag[m.group(1).lower()], translated)


def translate_keeping(text: str, phrases: Sequence[Phrase], target: str,
                      translate: Callable[[str], str]) -> str:
    """`translate(text)` with every term kept or mapped exactly."""
    if not phrases:
        return translate(text)
    marked, found = protect(text, phrases)
    if not found:
        return translate(text)
    restored = restore(translate(marked), found, target)
    if restored is not None:
        return restored
    # The engine did not copy a placeholder: translate the pieces between the terms.
    pieces = _PLACEHOLDER_FIND.split(marked)  # text, tag, text, tag, ..., text
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(found[_index(piece)].written(target))
        elif piece.strip(" ,;:"):
            out.append(translate(piece.strip()))
    return " ".join(part.strip() for part in out if part.strip())


def _index(tag: str) -> int:
    tag = tag.lower()
    return ord(tag) - 97 if len(tag) == 1 else (ord(tag[0]) - 96) * 26 + ord(tag[1]) - 97


# -- speech ---------------------------------------------------------------------------------

def spoken(text: str, phrases: Sequence[Phrase], lang: str) -> str:
    """What the voice reads: each term as it is written in `lang`, said its spoken way."""
    for phrase in phrases:
        if phrase.say:
            text = _pattern(phrase.written(lang)).sub(lambda _m, s=phrase.say: s, text)
    return text
