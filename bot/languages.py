"""Language codes: ISO 639-1 everywhere inside Interpres; other spellings are mapped at the edge."""

from __future__ import annotations

# Whisper's languages that have an ISO 639-1 code (Hawaiian "haw" and Cantonese "yue",
# which have none, are not offered).
NAMES: dict[str, str] = {
    "en": "English", "zh": "Chinese", "de": "German", "es": "Spanish", "ru": "Russian",
    "ko": "Korean", "fr": "French", "ja": "Japanese", "pt": "Portuguese", "tr": "Turkish",
    "pl": "Polish", "ca": "Catalan", "nl": "Dutch", "ar": "Arabic", "sv": "Swedish",
    "it": "Italian", "id": "Indonesian", "hi": "Hindi", "fi": "Finnish", "vi": "Vietnamese",
    "he": "Hebrew", "uk": "Ukrainian", "el": "Greek", "ms": "Malay", "cs": "Czech",
    "ro": "Romanian", "da": "Danish", "hu": "Hungarian", "ta": "Tamil", "no": "Norwegian",
    "th": "Thai", "ur": "Urdu", "hr": "Croatian", "bg": "Bulgarian", "lt": "Lithuanian",
    "la": "Latin", "mi": "Maori", "ml": "Malayalam", "cy": "Welsh", "sk": "Slovak",
    "te": "Telugu", "fa": "Persian", "lv": "Latvian", "bn": "Bengali", "sr": "Serbian",
    "az": "Azerbaijani", "sl": "Slovenian", "kn": "Kannada", "et": "Estonian",
    "mk": "Macedonian", "br": "Breton", "eu": "Basque", "is": "Icelandic", "hy": "Armenian",
    "ne": "Nepali", "mn": "Mongolian", "bs": "Bosnian", "kk": "Kazakh", "sq": "Albanian",
    "sw": "Swahili", "gl": "Galician", "mr": "Marathi", "pa": "Punjabi", "si": "Sinhala",
    "km": "Khmer", "sn": "Shona", "yo": "Yoruba", "so": "Somali", "af": "Afrikaans",
    "oc": "Occitan", "ka": "Georgian", "be": "Belarusian", "tg": "Tajik", "sd": "Sindhi",
    "gu": "Gujarati", "am": "Amharic", "yi": "Yiddish", "lo": "Lao", "uz": "Uzbek",
    "fo": "Faroese", "ht": "Haitian Creole", "ps": "Pashto", "tk": "Turkmen", "nn": "Nynorsk",
    "mt": "Maltese", "sa": "Sanskrit", "lb": "Luxembourgish", "my": "Burmese", "bo": "Tibetan",
    "tl": "Tagalog", "mg": "Malagasy", "as": "Assamese", "tt": "Tatar", "ln": "Lingala",
    "ha": "Hausa", "ba": "Bashkir", "jw": "Javanese", "su": "Sundanese",
}

# How speakers call their own language (the interpreter feeds' display names in Janus).
NATIVE_NAMES: dict[str, str] = {
    "en": "English", "es": "Español", "fr": "Français", "de": "Deutsch", "it": "Italiano",
    "pt": "Português", "ca": "Català", "nl": "Nederlands", "pl": "Polski", "ru": "Русский",
    "uk": "Українська", "zh": "中文", "ja": "日本語", "ko": "한국어", "ar": "العربية",
    "tr": "Türkçe", "sv": "Svenska", "el": "Ελληνικά", "hi": "हिन्दी", "ro": "Română",
}

# ISO 639-3 (and a few regional) codes as Apertium spells them, mapped to 639-1.
_THREE_TO_TWO: dict[str, str] = {
    "eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "por": "pt", "ita": "it", "cat": "ca",
    "deu": "de", "ger": "de", "glg": "gl", "eus": "eu", "oci": "oc", "ron": "ro", "nld": "nl",
    "zho": "zh", "jpn": "ja", "rus": "ru", "ara": "ar", "kor": "ko", "pol": "pl", "swe": "sv",
    "dan": "da", "nob": "no", "nno": "nn", "hin": "hi", "tur": "tr", "ukr": "uk", "ces": "cs",
}

# Other spellings of a code: retired ISO 639-1 ("iw"), Whisper's own ("jw" for Javanese,
# whose ISO code is "jv"), Norwegian Bokmål, Filipino, Mandarin.
_ALIASES: dict[str, str] = {"iw": "he", "jv": "jw", "nb": "no", "fil": "tl", "cmn": "zh"}
# "French", "german": a manifest or a command line may name the language in English.
_BY_NAME: dict[str, str] = {english.lower(): code for code, english in NAMES.items()}

# Languages whose text has no spaces between words: scored by characters, not words.
CHARACTER_SCRIPTS = frozenset({"zh", "ja", "ko", "th", "lo", "km", "my", "bo"})


class UnknownLanguage(ValueError):
    """A language code nobody knows; the message says what to use instead."""


def normalize(code: str) -> str:
    """Map 'es', 'ES', 'spa', 'es-ES', 'es_ES', 'Spanish' to 'es'; raise UnknownLanguage
    otherwise."""
    if code.strip().lower() in _BY_NAME:
        return _BY_NAME[code.strip().lower()]
    cleaned = code.strip().lower().replace("_", "-").split("-")[0]
    if cleaned in NAMES:
        return cleaned
    if cleaned in _THREE_TO_TWO:
        return _THREE_TO_TWO[cleaned]
    if cleaned in _ALIASES:
        return _ALIASES[cleaned]
    raise UnknownLanguage(
        f"unknown language code {code!r}: use an ISO 639-1 code such as "
        "en, es, fr, de, pt, it, ca, zh (or the language's English name, such as French)"
    )


def name(code: str) -> str:
    return NAMES.get(code, code)


def parse_list(text: str) -> list[str]:
    """'es, fr,es' -> ['es', 'fr'] (order kept, duplicates dropped)."""
    seen: list[str] = []
    for part in text.split(","):
        if part.strip():
            code = normalize(part)
            if code not in seen:
                seen.append(code)
    return seen
