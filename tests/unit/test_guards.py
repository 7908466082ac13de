"""Hallucination guards over hand-written transcripts."""

from __future__ import annotations

import pytest

from bot.asr.guards import is_outro, normalise, rejection, trim_repetition
from bot.asr.whisper import Transcript

JFK = "ask not what your country can do for you, ask what you can do for your country"


def transcript(text: str, language: str = "en", avg_logprob: float = -0.2,
               no_speech_prob: float = 0.01, compression_ratio: float = 1.3,
               duration: float = 3.0) -> Transcript:
    return Transcript(text=text, language=language, avg_logprob=avg_logprob,
                      no_speech_prob=no_speech_prob, compression_ratio=compression_ratio,
                      duration=duration)


# -- normalise ----------------------------------------------------------------------------


def test_normalise_folds_case_punctuation_and_spaces() -> None:
    assert normalise("  Thank you,   for WATCHING! ") == "thank you for watching"
    assert normalise("amara.org") == "amaraorg"


def test_normalise_keeps_apostrophes_and_hyphens() -> None:
    assert normalise("Merci d'avoir regardé") == "merci d'avoir regardé"
    assert normalise("Amara.org-Community") == "amaraorg-community"


# -- trim_repetition ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("and so my fellow and so my fellow and so my fellow", "and so my fellow"),
    ("and so my fellow and so my fellow and so my fellow and so my",
     "and so my fellow"),
    ("We choose to go to the moon. the moon. the moon. the moon.",
     "We choose to go to the moon."),
    ("Thank you. Thank you. Thank you.", "Thank you."),
    ("I think that I think that I think that I think that", "I think that"),
    ("okay okay okay okay okay okay okay", "okay"),
])
def test_trim_repetition_cuts_a_looping_phrase(text: str, expected: str) -> None:
    assert trim_repetition(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("谢谢大家谢谢大家谢谢大家", "谢谢大家"),
    ("我们今天很高兴。谢谢大家谢谢大家谢谢大家", "我们今天很高兴。谢谢大家"),
    ("ありがとうございますありがとうございますありがとうございます", "ありがとうございます"),
])
def test_trim_repetition_cuts_a_repeated_character_substring(text: str, expected: str) -> None:
    assert trim_repetition(text) == expected


@pytest.mark.parametrize("text", [
    JFK,
    "And so, my fellow Americans: " + JFK + ".",
    "The quick brown fox jumps over the lazy dog.",
    "ha ha ha that is funny",  # a repeat not at the end
    "the end the end",  # only twice
    "我们今天去公园。",
    "谢谢大家谢谢大家",  # only twice
    "",
    "It cost 1000000",  # digits are a number, not a loop
    "The budget is 10,000,000,000",
    "价格是1000000",
])
def test_trim_repetition_leaves_normal_text_alone(text: str) -> None:
    assert trim_repetition(text) == text


def test_trim_repetition_min_repeats_is_an_option() -> None:
    assert trim_repetition("the end the end") == "the end the end"
    assert trim_repetition("the end the end", min_repeats=2) == "the end"


# -- is_outro -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "lang"), [
    ("Thank you for watching!", "en"),
    ("Thanks for watching.", "en"),
    ("Please subscribe", "en"),
    ("Subtitles by the Amara.org community", "en"),
    ("Untertitel im Auftrag des ZDF", "de"),
    ("Untertitel im Auftrag des ZDF, 2021", "de"),
    ("Gracias por ver el video.", "es"),
    ("谢谢观看", "zh"),
    ("Thank you for watching!", "de"),  # English outros count in any language
])
def test_is_outro_known_phrases(text: str, lang: str) -> None:
    assert is_outro(text, lang, speech_seconds=5.0)


@pytest.mark.parametrize("text", ["Thank you.", "Bye!", "you", "Thank you"])
def test_short_phrases_are_outros_only_for_short_speech(text: str) -> None:
    assert is_outro(text, "en", speech_seconds=1.0)
    assert not is_outro(text, "en", speech_seconds=1.5)
    assert not is_outro(text, "en", speech_seconds=3.0)


def test_short_phrases_per_language() -> None:
    assert is_outro("¡Gracias!", "es", speech_seconds=0.8)
    assert not is_outro("¡Gracias!", "es", speech_seconds=2.0)
    assert is_outro("Merci.", "fr", speech_seconds=0.8)


@pytest.mark.parametrize("text", [
    "Thank you so much for coming tonight.",  # contains a short-only phrase
    "Thank you for watching the game with all of us here tonight.",  # much longer
    JFK,
    "Untertitel im Auftrag des ZDF",  # a German outro is not checked for English
    "",
    "...",
])
def test_is_outro_leaves_real_speech_alone(text: str) -> None:
    assert not is_outro(text, "en", speech_seconds=1.0)


# -- rejection ----------------------------------------------------------------------------


def test_a_good_transcript_passes() -> None:
    assert rejection(transcript(JFK), 4.0, "en") is None


@pytest.mark.parametrize("text", ["", "   ", "...", " ?! "])
def test_empty(text: str) -> None:
    assert rejection(transcript(text), 2.0, "en") == "empty"


def test_no_speech() -> None:
    t = transcript("Hello there.", no_speech_prob=0.9, avg_logprob=-1.0)
    assert rejection(t, 2.0, "en") == "no-speech"


def test_no_speech_needs_both_signals() -> None:
    # Confident text despite a high no-speech probability is kept.
    assert rejection(transcript("Hello there.", no_speech_prob=0.9, avg_logprob=-0.3),
                     2.0, "en") is None
    # A low log-probability alone is not "no speech".
    assert rejection(transcript("Hello there.", no_speech_prob=0.2, avg_logprob=-1.0),
                     2.0, "en") is None


def test_repetitive() -> None:
    t = transcript("la la la la la la la la la la la", compression_ratio=3.0)
    assert rejection(t, 2.0, "en") == "repetitive"
    assert rejection(transcript(JFK, compression_ratio=2.4), 2.0, "en") is None


def test_low_confidence() -> None:
    assert rejection(transcript("Hello there.", avg_logprob=-1.5), 2.0, "en") == (
        "low-confidence")
    assert rejection(transcript("Hello there.", avg_logprob=-1.1), 2.0, "en") is None


def test_outro() -> None:
    assert rejection(transcript("Thank you for watching!"), 5.0, "en") == "outro"
    made_up = transcript("Thank you.", no_speech_prob=0.4, avg_logprob=-0.9)
    assert rejection(made_up, 1.0, "en") == "outro"
    assert rejection(made_up, 2.0, "en") is None
    # Said clearly (a real "Thank you." decodes at no-speech 0.03, log-prob -0.2): kept.
    said = transcript("Thank you.", no_speech_prob=0.03, avg_logprob=-0.2)
    assert rejection(said, 0.8, "en") is None
    assert rejection(transcript("Thank you for watching!", no_speech_prob=0.03,
                                avg_logprob=-0.2), 5.0, "en") == "outro"


def test_outro_uses_the_given_language() -> None:
    t = transcript("Untertitel im Auftrag des ZDF", language="de")
    assert rejection(t, 3.0, "de") == "outro"


def test_reasons_in_order_of_checks() -> None:
    # Empty wins over everything; no-speech over repetitive; repetitive over low-confidence.
    assert rejection(transcript("", no_speech_prob=0.9, avg_logprob=-2.0,
                                compression_ratio=5.0), 1.0, "en") == "empty"
    assert rejection(transcript("la la la", no_speech_prob=0.9, avg_logprob=-2.0,
                                compression_ratio=5.0), 1.0, "en") == "no-speech"
    assert rejection(transcript("la la la", avg_logprob=-2.0, compression_ratio=5.0),
                     1.0, "en") == "repetitive"
    assert rejection(transcript("Thank you for watching", avg_logprob=-2.0),
                     1.0, "en") == "low-confidence"


@pytest.mark.parametrize(("text", "expected"), [
    ("Can you fear me? Can you fear me?", "Can you fear me?"),
    ("Sounds good. Sounds good.", "Sounds good."),
    ("Go ahead. Go ahead. Go", "Go ahead. Go ahead. Go"),
    ("No. No.", "No. No."),  # one word twice is speech as often as not
    ("We will, we will rock you", "We will, we will rock you"),
])
def test_trim_doubled(text: str, expected: str) -> None:
    from bot.asr.guards import trim_doubled

    assert trim_doubled(text) == expected
