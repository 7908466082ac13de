"""Finals read as sentences: capitalised, closed, and only ever appended to."""

from __future__ import annotations

import pytest

from bot.pipeline.punctuation import as_sentence, capitalized, open_ended


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("and so my fellow americans", "en", "And so my fellow americans."),
    ("¿qué tal?", "es", "¿Qué tal?"),
    ("广州市房地产中介协会分析", "zh", "广州市房地产中介协会分析。"),
    ('"quoted" text', "en", '"Quoted" text.'),
    ("iPhone sales rose", "en", "iPhone sales rose."),
    ("3 apples", "en", "3 apples."),
    ("Bonjour à tous.", "fr", "Bonjour à tous."),
    ("wait,", "en", "Wait,"),
    ("", "en", ""),
    ("  über alles  ", "de", "Über alles."),
])
def test_as_sentence(text: str, lang: str, expected: str) -> None:
    assert as_sentence(text, lang) == expected


def test_a_capitalised_prefix_stays_a_prefix_of_the_sentence() -> None:
    committed = capitalized("the sands are")
    assert as_sentence("the sands are whitish", "en").startswith(committed)


def test_interims_are_open_ended() -> None:
    assert open_ended("Las arenas son...") == "Las arenas son"
    assert open_ended("Las arenas son blanques. ") == "Las arenas son blanques"
    assert open_ended("我们明天去公园。") == "我们明天去公园"
    assert open_ended("Is it Monday?") == "Is it Monday?"  # a question stays one
    assert open_ended("Dr. Smith and Mr. Jones") == "Dr. Smith and Mr. Jones"
