"""How profanity reaches one listener: raw, masked ("f***") or removed.

The word lists are those of the PyPI package glin-profanity (4.1.0, MIT; its lists descend
from LDNOOBW, "List of Dirty, Naughty, Obscene and Otherwise Bad Words"). Only its JSON data
files are read, the package is never imported. Those lists were made to keep words out of
search suggestions, so they hold ordinary words a meeting says every day (Italian "venire",
"pesce", "regina"; Portuguese "cerveja", "aborto"; Spanish "martillo"; English "sucks",
"escort"). NOT_PROFANE below takes them out: reviewed by hand for en, es, fr, de, pt and it
(2026-12), keeping insults, slurs and sexual or scatological swearing, leaving out words with
an ordinary meaning, anatomy, medicine, sexuality and identity, news words and mild
exclamations; ALSO_PROFANE adds common swearing the lists lack (Spanish "joder"). Other
languages use the package's list as it is.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path

MODES = ("raw", "masked", "removed")
# glin-profanity's file per language code.
FILES = {
    "ar": "arabic", "cs": "czech", "da": "danish", "de": "german", "en": "english",
    "eo": "esperanto", "es": "spanish", "fa": "persian", "fi": "finnish", "fr": "french",
    "hi": "hindi", "hu": "hungarian", "it": "italian", "ja": "japanese", "ko": "korean",
    "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ru": "russian",
    "sv": "swedish", "th": "thai", "tr": "turkish", "zh": "chinese",
}
# Written without spaces between words: a listed word matches inside a longer run.
UNSPACED = {"ja", "th", "zh"}

NOT_PROFANE: dict[str, set[str]] = {
    "en": {
        "anal", "anus", "auto erotic", "autoerotic", "bastardized", "bastardo", "bastinado",
        "big black", "blonde action", "blonde on blonde action", "brunette action", "busty",
        "butt", "clitoris", "date rape", "daterape", "domination", "dominatrix", "erotic",
        "erotism", "escort", "eunuch", "fecal", "genitals", "girl on", "girl on top",
        "hard core", "hardcore", "homoerotic", "hot chick", "how to kill", "how to murder",
        "huge fat", "incest", "intercourse", "jelly donut", "kinky", "leather restraint",
        "leather straight jacket", "lemon party", "lolita", "lovemaking", "mf",
        "missionary position", "nipple", "nipples", "nude", "nudity", "orgasm",
        "paedophile", "panties", "panty", "pedophile", "penis", "playboy", "pleasure chest",
        "pornography", "prince albert piercing", "rape", "raping", "rapist", "rectum",
        "sadism", "santorum", "scat", "semen", "sex", "sexo", "sexy", "strip club", "suck",
        "sucks", "sultry women", "swastika", "swinger", "tainted love", "taste my",
        "testbad01", "tied up", "tight white", "topless", "twinkie", "undressing", "vagina",
        "vibrator", "voyeur", "vulva", "xx",
    },
    "es": {
        "asesinato", "asno", "chupada", "concha", "coprofagía", "drogas", "esperma",
        "fiesta de salchichas", "haciendo el amor", "heroína", "infierno", "maciza",
        "maldito", "martillo", "nazi", "orina", "pervertido", "pezón", "prostituta",
        "racista", "sádico", "semen", "sexo", "sexo oral", "travesti", "trio", "vulva",
    },
    "fr": {
        "baiser", "bosser", "bourré", "bourrée", "cailler", "clitoris", "drague", "folle",
        "gerbe", "jouir", "ménage à trois", "meuf", "péter", "pipi", "ramoner", "suce",
        "tanche", "teuf", "veuve",
    },
    "de": {
        "bonze", "fratze", "kimme", "lümmel", "mufti", "nackt", "nippel", "onanieren",
        "orgasmus", "pinkeln", "popel", "porno", "rosette", "schabracke",
    },
    "pt": {
        "aborto", "amador", "ânus", "aranha", "ariano", "bissexual", "boob", "bumbum",
        "burro", "camisinha", "cerveja", "chupar", "clitoris", "cocaína", "comer",
        "consolo", "dum raio", "fecal", "frango assado", "grelho", "heroína",
        "heterosexual", "homem gay", "homoerótico", "homosexual", "inferno", "lésbica",
        "lolita", "mama", "passar um cheque", "pau", "pênis", "pinto", "saco", "torneira",
        "vibrador",
    },
    "it": {
        "allupato", "anale", "assatanato", "bagnarsi", "balle", "battere", "biga", "brinca",
        "buona donna", "cadavere", "cammello", "cappella", "carciofo", "carità", "casci",
        "cozza", "duro", "fava", "femminuccia", "fuori come un balcone", "grilletto",
        "guanto", "l'arte bolognese", "lumaca", "manico", "mannaggia", "monta", "montare",
        "nave scuola", "nudo", "patacca", "pesce", "pipa", "pipì", "pistola", "pistolotto",
        "pomiciare", "pompa", "porca", "quaglia", "regina", "rizzarsi", "sbattere",
        "sbattersi", "spagnola", "tarzanello", "tirare", "uccello", "vangare", "venire",
        "zio cantante",
    },
}


# Common swearing the package's lists lack (reviewed with NOT_PROFANE).
ALSO_PROFANE: dict[str, set[str]] = {
    "es": {"joder", "jodido", "jodida", "jódete", "cojones", "carajo", "pendejo", "pendeja",
           "chingar", "chingada", "cabrones"},
    "fr": {"bordel de merde", "putains", "connards", "salopes"},
    "de": {"verdammt", "scheisse", "arschlöcher"},
    "en": {"fucked", "fucks", "shits", "bullshitting", "motherfuckers", "assholes"},
}


class UnknownMode(ValueError):
    pass


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise UnknownMode(f"profanity must be one of {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("glin_profanity")  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "dictionaries"


@cache
def words(lang: str) -> tuple[str, ...]:
    """The profane words and phrases of a language, longest first (none if no list)."""
    directory = _data_dir()
    if lang not in FILES or directory is None:
        return ()
    data = json.loads((directory / f"{FILES[lang]}.json").read_text(encoding="utf-8"))
    listed = data["words"] if isinstance(data, dict) else data
    excluded = NOT_PROFANE.get(lang, set())
    kept = {w.strip().lower() for w in listed if isinstance(w, str) and w.strip()}
    kept = (kept | ALSO_PROFANE.get(lang, set())) - excluded
    return tuple(sorted(kept, key=lambda w: (-len(w), w)))


@cache
def _pattern(lang: str) -> re.Pattern[str] | None:
    listed = words(lang)
    if not listed:
        return None
    body = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in listed)
    if lang in UNSPACED:
        return re.compile(f"(?:{body})", re.IGNORECASE)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def _mask(match: re.Match[str]) -> str:
    # Every word keeps its first letter: "fuck off" -> "f*** o**".
    return re.sub(r"\S+", lambda w: w.group()[0] + "*" * (len(w.group()) - 1), match.group())


_SPACES_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])")
_DANGLING_COMMAS = re.compile(r"[,;:]+(?=[.!?]|$)")


def apply(text: str, lang: str, mode: str) -> str:
    """`text` (in `lang`) as a listener who chose `mode` reads it."""
    if mode == "raw" or not text:
        return text
    pattern = _pattern(lang)
    if pattern is None or not pattern.search(text):
        return text
    if mode == "masked":
        return pattern.sub(_mask, text)
    removed = " ".join(pattern.sub("", text).split())
    removed = _SPACES_BEFORE_PUNCTUATION.sub(r"\1", removed)
    removed = _DANGLING_COMMAS.sub("", removed).lstrip(",;: ")
    if text[:1].isupper() and removed[:1].islower():  # it began a sentence
        removed = removed[0].upper() + removed[1:]
    return removed


def spoken(text: str, lang: str, mode: str) -> str:
    """What the voice says: masked words cannot be read aloud, so they are left out."""
    return apply(text, lang, "removed" if mode == "masked" else mode)


def committed_for(committed: str, whole: str, lang: str, mode: str) -> str:
    """The filtered committed prefix, still a prefix of `whole` (the already filtered text:
    removing a phrase the tail completes could otherwise break that)."""
    shown = apply(committed, lang, mode)
    if whole.startswith(shown):
        return shown
    size = 0
    for a, b in zip(shown, whole, strict=False):
        if a != b:
            break
        size += 1
    return whole[:size]
