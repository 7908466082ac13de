"""Phrase lists: parsing and limits, prompts, protecting terms through a translator."""

from __future__ import annotations

import pytest

from bot.phrases import (
    MAX_PHRASES,
    Phrase,
    PhraseError,
    canonical,
    hotwords,
    parse_phrases,
    protect,
    restore,
    spoken,
    to_json,
    translate_keeping,
)

KARVONIX = Phrase("Karvonix", {"fr": "Karvonix SA"}, say="car vo nix")
CLOUD = Phrase("Karvonix Cloud")


def test_parse_takes_a_list_or_an_object_and_round_trips():
    body = [{"term": " Karvonix ", "fr": "Karvonix SA", "say": "car vo nix"}]
    assert parse_phrases(body) == (KARVONIX,)
    assert parse_phrases({"phrases": body}) == (KARVONIX,)
    assert parse_phrases(to_json(parse_phrases(body))) == (KARVONIX,)
    assert parse_phrases([]) == ()


@pytest.mark.parametrize(("body", "says"), [
    ("Karvonix", "send a list"),
    ([{"term": ""}], "1 to 64"),
    ([{"term": "x" * 65}], "1 to 64"),
    ([{"term": "a\x07b"}], "control characters"),
    ([{"term": "a\u202eb"}], "control characters"),
    ([{"term": 3}], "must be a string"),
    ([{"say": "x"}], 'no "term"'),
    ([{"term": "A", "klingon": "B"}], "language code"),
    ([{"term": "A"}, {"term": "a"}], "listed twice"),
    ([{"term": f"t{i}"} for i in range(MAX_PHRASES + 1)], f"at most {MAX_PHRASES}"),
    (["Karvonix"], "must be an object"),
])
def test_bad_lists_say_what_is_wrong(body, says):
    with pytest.raises(PhraseError, match=says):
        parse_phrases(body)


def test_hotwords_fit_whisper_prompt():
    assert hotwords([KARVONIX, CLOUD]) == "Karvonix, Karvonix Cloud."
    many = [Phrase(f"Term{i:03d}xxxxxxxxxxxxxxxxxxxx") for i in range(100)]
    assert 0 < len(hotwords(many)) <= 302
    assert hotwords([]) == ""


def test_canonical_spelling_whole_words_only():
    assert canonical("send it to karvonix cloud now", [CLOUD]) == "send it to Karvonix Cloud now"
    assert canonical("karvonixes", [KARVONIX]) == "karvonixes"


def test_protect_and_restore_with_renderings():
    marked, found = protect("Karvonix Cloud runs Karvonix.", [KARVONIX, CLOUD])
    assert "Karvonix" not in marked and found == [CLOUD, KARVONIX]
    assert restore(marked.replace("runs", "fait tourner"), found, "fr") == (
        "Karvonix Cloud fait tourner Karvonix SA.")
    assert restore(marked.replace("Zqxa", "zqxa"), found, "es") == "Karvonix Cloud runs Karvonix."
    assert restore(marked.replace("Zqxb", ""), found, "fr") is None  # lost
    assert restore(marked + " Zqxa", found, "fr") is None  # doubled


def test_translate_keeping_falls_back_to_pieces_when_an_engine_mangles_placeholders():
    calls = []

    def mangle(text):
        calls.append(text)
        return text.upper().replace("ZQX", "Q")  # loses every placeholder

    out = translate_keeping("send the contract to Karvonix before Friday", [KARVONIX], "fr",
                            mangle)
    assert out == "SEND THE CONTRACT TO Karvonix SA BEFORE FRIDAY"
    assert calls[1:] == ["send the contract to", "before Friday"]
    assert translate_keeping("no terms here", [KARVONIX], "fr", str.upper) == "NO TERMS HERE"


def test_spoken_form_replaces_the_written_one():
    assert spoken("Merci, Karvonix SA.", [KARVONIX], "fr") == "Merci, car vo nix."
    assert spoken("Thanks, Karvonix.", [KARVONIX], "en") == "Thanks, car vo nix."
