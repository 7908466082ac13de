"""Finals read as sentences in every language: a capital first letter (where the script has
case) and closing punctuation.

Whisper usually punctuates, but not always: a decode that continues the speaker's previous
words (its prompt) may start in lower case, a fragment cut at a long pause may end bare, and
a translation engine keeps whatever it was given.
"""

from __future__ import annotations

from bot.languages import CHARACTER_SCRIPTS

CLOSING = ".?!…。？！」』\"'”’)]»"
FULL_STOP = {lang: "。" for lang in ("zh", "ja")}


def capitalized(text: str) -> str:
    """The first word with a capital, unless it has one already ("iPhone")."""
    index = next((i for i, char in enumerate(text) if char.isalnum()), None)
    if index is not None and text[index].islower():
        word = text[index:].split(" ", 1)[0]
        if not any(char.isupper() for char in word):
            text = text[:index] + text[index].upper() + text[index + 1:]
    return text


def as_sentence(text: str, lang: str) -> str:
    """Capitalised, and closed with a full stop when it ends bare. Only appends, so a
    capitalised committed prefix stays a prefix (a trailing comma is left as it is)."""
    text = capitalized(text.strip())
    if not text or text[-1] in CLOSING or text[-1] in ",;:-–—":
        return text
    return text + _stop(lang)


def _stop(lang: str) -> str:
    return FULL_STOP.get(lang, "。" if lang in CHARACTER_SCRIPTS and lang != "ko" else ".")


def open_ended(text: str) -> str:
    """An interim without the full stop or ellipsis Whisper puts at the end of nearly every
    decode: the speaker is still talking, and a stop that the next revision takes back is
    flicker on every listener's screen ("son..." then "son blanques." then "son
    blanquecinas de")."""
    return text.rstrip().rstrip(".…。").rstrip()
