"""Hallucination guards: decide whether a Whisper output is speech worth captioning.

Whisper invents text for silence, noise and cut-off audio: credits and outros learnt from
subtitled videos, or a phrase repeated until the token budget runs out. These checks are
pure functions over the decode's text and statistics.
"""

from __future__ import annotations

import re
import unicodedata

from bot.asr.whisper import Transcript

# Known outro / credit phrases, per language, normalised (casefolded, no punctuation).
OUTRO_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("thank you for watching", "thanks for watching", "please subscribe",
           "subscribe to my channel", "like and subscribe", "see you in the next video",
           "subtitles by the amaraorg community", "transcription by castingwords",
           "thank you", "bye", "you"),
    "es": ("gracias por ver el video", "gracias por ver", "suscríbete al canal",
           "subtítulos realizados por la comunidad de amaraorg", "gracias", "subtítulos por"),
    "fr": ("merci d'avoir regardé cette vidéo", "merci d'avoir regardé",
           "sous-titres réalisés para la communauté d'amaraorg", "abonnez-vous",
           "sous-titrage st' 501", "sous-titres par", "merci"),
    "de": ("vielen dank fürs zuschauen", "danke fürs zuschauen", "untertitel im auftrag des zdf",
           "untertitel der amaraorg-community", "untertitelung des zdf", "abonniert den kanal"),
    "pt": ("obrigado por assistir", "inscreva-se no canal", "legendas pela comunidade amaraorg"),
    "it": ("grazie per la visione", "sottotitoli creati dalla comunità amaraorg",
           "iscriviti al canale"),
    "zh": ("字幕由amaraorg社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "谢谢观看"),
}

# Phrases that are only hallucinations when they are the whole utterance and it is short.
_SHORT_ONLY = {"thank you", "bye", "you", "gracias", "merci"}


def normalise(text: str) -> str:
    kept = "".join(ch for ch in text.casefold()
                   if not unicodedata.category(ch).startswith("P") or ch in "'-")
    return " ".join(kept.split())


def is_outro(text: str, lang: str, speech_seconds: float) -> bool:
    norm = normalise(text)
    if not norm:
        return False
    for phrase in OUTRO_PHRASES.get(lang, ()) + OUTRO_PHRASES["en"]:
        if phrase in _SHORT_ONLY:
            if norm == phrase and speech_seconds < 1.5:
                return True
        elif norm == phrase or (phrase in norm and len(norm) <= len(phrase) + 12):
            return True
    return False


def trim_repetition(text: str, min_repeats: int = 3) -> str:
    """Cut a phrase looping at the end ("and so my fellow and so my fellow and so my...")
    down to its first occurrence."""
    words = text.split()
    n = len(words)
    for size in range(1, n // min_repeats + 1):
        for start in range(0, n - size * min_repeats + 1):
            unit = [w.casefold().strip(".,!?") for w in words[start:start + size]]
            repeats = 1
            pos = start + size
            while pos + size <= n and [w.casefold().strip(".,!?")
                                       for w in words[pos:pos + size]] == unit:
                repeats += 1
                pos += size
            if repeats >= min_repeats and pos + size > n:
                return " ".join(words[:start + size])
    # Character scripts have no spaces: look for a repeated substring at the end.
    match = re.search(rf"(.{{2,}}?)\1{{{min_repeats - 1},}}$", text)
    # Digits repeat in real numbers ("1000000", "10,000,000,000"): leave those alone.
    if match and " " not in match.group(1) and not any(ch.isdigit() for ch in match.group(1)):
        return text[:match.start() + len(match.group(1))]
    return text


def trim_doubled(text: str) -> str:
    """"Can you hear me? Can you hear me?" from one "Can you hear me?": Whisper sometimes
    decodes a short utterance twice over (the encoder window is padded with silence). A
    whole utterance said twice is rarer than that: keep one."""
    words = text.split()
    half = len(words) // 2
    if half >= 2 and len(words) % 2 == 0 and [normalise(w) for w in words[:half]] == [
            normalise(w) for w in words[half:]]:
        return " ".join(words[:half])
    return text


def rejection(transcript: Transcript, speech_seconds: float, lang: str) -> str | None:
    """Why this decode must not become a caption, or None when it may."""
    text = transcript.text.strip()
    if not normalise(text):
        return "empty"
    if transcript.no_speech_prob > 0.6 and transcript.avg_logprob < -0.7:
        return "no-speech"
    if transcript.compression_ratio > 2.4:
        return "repetitive"
    if transcript.avg_logprob < -1.2:
        return "low-confidence"
    if is_outro(text, lang, speech_seconds) and not (
            normalise(text) in _SHORT_ONLY and said_clearly(transcript)):
        return "outro"
    return None


def said_clearly(transcript: Transcript) -> bool:
    """A real "Thank you." decodes with no-speech 0.03 and log-prob -0.2; the same words
    made up from noise or a breath came with no-speech above 0.6 and log-prob below -1.6."""
    return transcript.no_speech_prob < 0.2 and transcript.avg_logprob > -0.5
