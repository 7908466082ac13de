"""Profanity per listener: the package's lists, our reviewed exclusions, the three modes."""

from __future__ import annotations

import pytest

from bot import profanity


@pytest.mark.parametrize("lang", ["en", "es", "fr", "de", "pt", "it"])
def test_every_required_language_has_a_list_from_the_package(lang):
    assert len(profanity.words(lang)) >= 30


@pytest.mark.parametrize(("lang", "text", "masked", "removed"), [
    ("en", "What the fuck is this shit?", "What the f*** is this s***?", "What the is this?"),
    ("es", "Qué mierda, joder.", "Qué m*****, j****.", "Qué."),
    ("fr", "Putain, c'est nul.", "P*****, c'est nul.", "C'est nul."),
    ("de", "Das ist Scheiße.", "Das ist S******.", "Das ist."),
    ("it", "Che cazzo dici?", "Che c**** dici?", "Che dici?"),
    ("pt", "Que merda é essa?", "Que m**** é essa?", "Que é essa?"),
])
def test_modes(lang, text, masked, removed):
    assert profanity.apply(text, lang, "raw") == text
    assert profanity.apply(text, lang, "masked") == masked
    assert profanity.apply(text, lang, "removed") == removed


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "This class assignment sucks less than the last one; butter the bass."),
    ("it", "Vorrei venire con il pesce e la regina."),
    ("pt", "Uma cerveja para o meu amador de cinema."),
    ("es", "Necesito un martillo para el infierno de la obra."),
    ("fr", "Je vais bosser avec ma meuf."),
    ("zh", "我们今天开会。"),
    ("xx", "anything at all"),
])
def test_ordinary_words_are_left_alone(lang, text):
    assert profanity.apply(text, lang, "masked") == text


def test_the_voice_leaves_masked_words_out():
    assert profanity.spoken("Oh shit, we are late.", "en", "masked") == "Oh, we are late."


def test_committed_stays_a_prefix_of_the_text():
    whole = profanity.apply("what the ball sack is", "en", "removed")
    committed = profanity.committed_for("what the ball", whole, "en", "removed")
    assert whole.startswith(committed)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="raw, masked, removed"):
        profanity.check_mode("bleep")
