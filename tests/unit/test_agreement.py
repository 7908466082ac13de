"""The LocalAgreement policy over hand-written hypotheses: what it commits, what it holds
back, and how a free final decode is stitched onto the committed text."""

from __future__ import annotations

import random

import pytest

from bot.pipeline.agreement import (
    Agreement,
    agreed_prefix,
    aligned_end,
    comparable,
    copies_context,
    corrected,
    join_units,
    repeats_context,
    split_units,
    unit_probabilities,
    without_edge,
)
from bot.pipeline.recognizer import RecognizerOptions

# -- units --------------------------------------------------------------------------------


def test_split_units_spaced_scripts_are_words() -> None:
    assert split_units("  And so,  my fellow\tAmericans ", "en") == [
        "And", "so,", "my", "fellow", "Americans"]


def test_split_units_character_scripts_are_characters_without_spaces() -> None:
    assert split_units("我们 去 吧", "zh") == ["我", "们", "去", "吧"]
    assert split_units("こんにちは", "ja") == ["こ", "ん", "に", "ち", "は"]
    assert split_units("สวัสดี", "th") == list("สวัสดี")


def test_split_units_empty() -> None:
    assert split_units("", "en") == []
    assert split_units("   ", "zh") == []


def test_join_units_round_trips() -> None:
    assert join_units(["And", "so,", "my"], "en") == "And so, my"
    assert join_units(["我", "们", "去", "吧"], "zh") == "我们去吧"
    assert join_units(split_units("你好，世界", "zh"), "zh") == "你好，世界"
    assert join_units([], "en") == ""


# -- comparison ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("Americans,", "americans"),
    ("HELLO", "hello"),
    ("¿Qué?", "qué"),
    ("«Bonjour»", "bonjour"),
    ("Straße", "STRASSE"),
    ("world.", "World!"),
])
def test_comparable_folds_case_and_punctuation(a: str, b: str) -> None:
    assert comparable(a) == comparable(b)


@pytest.mark.parametrize(("a", "b"), [
    ("American", "Americans"),
    ("cafe", "café"),
    ("one", "two"),
])
def test_comparable_keeps_letters_apart(a: str, b: str) -> None:
    assert comparable(a) != comparable(b)


def test_comparable_drops_punctuation_only_units() -> None:
    assert comparable("—") == ""
    assert comparable("，") == ""


def test_agreed_prefix() -> None:
    assert agreed_prefix([], ["a"]) == 0
    assert agreed_prefix(["a", "b"], []) == 0
    assert agreed_prefix(["And", "so", "my"], ["and", "so,", "my", "fellow"]) == 3
    assert agreed_prefix(["and", "so", "my"], ["and", "then", "my"]) == 1
    assert agreed_prefix(["x"], ["y", "x"]) == 0


# -- update -------------------------------------------------------------------------------


def test_first_hypothesis_commits_nothing() -> None:
    agreement = Agreement("en", first_votes=2)
    assert agreement.update("and so my fellow") == []
    assert agreement.committed_text == ""


def test_commits_what_two_consecutive_hypotheses_agree_on_minus_the_last_unit() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("and so my")
    assert agreement.update("and so my fellow") == ["and", "so", "my"]
    assert agreement.update("and so my fellow Americans") == ["and", "so", "my", "fellow"]
    assert agreement.committed_text == "and so my fellow"


def test_holds_back_the_last_unit_even_when_it_agrees() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("ask not what your country")
    committed = agreement.update("ask not what your country")
    assert committed == ["ask", "not", "what", "your"]
    # The same hypothesis again commits nothing more: "country" may still be cut.
    assert agreement.update("ask not what your country") == committed


def test_stops_at_the_first_disagreement() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("the quick brown fox jumps")
    assert agreement.update("the quick brown box jumps over") == ["the", "quick", "brown"]


def test_punctuation_and_case_do_not_block_and_newer_spelling_is_kept() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("and so my fellow americans ask")
    committed = agreement.update("And so, my fellow Americans, ask not")
    assert committed == ["And", "so,", "my", "fellow", "Americans,", "ask"]


def test_a_cut_word_at_the_edge_is_not_committed() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("my fellow American")
    assert agreement.update("my fellow Americans") == ["my", "fellow"]
    assert agreement.update("my fellow Americans ask") == ["my", "fellow", "Americans"]


def test_character_script_commits_characters() -> None:
    agreement = Agreement("zh", first_votes=2)
    agreement.update("我们今天")
    assert agreement.update("我们今天去") == ["我", "们", "今", "天"]
    assert agreement.committed_text == "我们今天"
    assert agreement.update("我们今天去公园") == list("我们今天去")
    assert agreement.update("我们今天去公园玩") == list("我们今天去公园")
    assert agreement.committed_text == "我们今天去公园"


def test_never_retracts_when_a_hypothesis_contradicts_the_committed_part() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("ask not what your country")
    before = list(agreement.update("ask not what your country can"))
    assert before == ["ask", "not", "what", "your", "country"]
    # A decode that ignored the forced prefix (e.g. after a language switch).
    after = agreement.update("pregunta no qué tu país puede hacer")
    assert after[:len(before)] == before
    after2 = agreement.update("completely different words")
    assert after2[:len(before)] == before


def test_contradiction_compares_only_the_tails() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("one two three")
    assert agreement.update("one two three four") == ["one", "two", "three"]
    # The head disagrees, so the tail after the committed length is compared by position.
    agreement.update("uno dos tres four five")
    assert agreement.update("UNO DOS TRES four five six") == [
        "one", "two", "three", "four", "five"]


def test_shorter_hypothesis_than_committed_keeps_committed() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("a b c d e")
    committed = list(agreement.update("a b c d e f"))
    assert agreement.update("a b") == committed
    assert agreement.update("") == committed


def test_committed_is_a_new_list_each_time_the_old_one_is_not_mutated() -> None:
    agreement = Agreement("en", first_votes=2)
    agreement.update("a b c")
    first = agreement.update("a b c d")
    snapshot = list(first)
    agreement.update("a b c d e f")
    assert first == snapshot


# -- final text ---------------------------------------------------------------------------


def committed_agreement(text: str, lang: str = "en") -> Agreement:
    agreement = Agreement(lang, first_votes=2)
    agreement.committed = split_units(text, lang)
    return agreement


def test_final_text_without_committed_is_the_hypothesis() -> None:
    assert Agreement("en", first_votes=2).final_text("Hello  there.") == "Hello there."
    assert Agreement("zh", first_votes=2).final_text("你好 世界") == "你好世界"


def test_final_text_that_extends_the_committed_part() -> None:
    agreement = committed_agreement("ask not what")
    assert agreement.final_text("ask not what your country") == "ask not what your country"


def test_final_text_keeps_the_committed_spelling() -> None:
    agreement = committed_agreement("and so my fellow")
    assert agreement.final_text("And so, my fellow Americans.") == "and so my fellow Americans."


def test_final_text_substitution_inside_committed() -> None:
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the quick crown fox jumps over") == (
        "the quick brown fox jumps over")


def test_final_text_substitution_of_the_last_committed_unit() -> None:
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the quick brown box jumps over") == (
        "the quick brown fox jumps over")


def test_final_text_insertion_inside_committed() -> None:
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the very quick brown fox jumps") == (
        "the quick brown fox jumps")


def test_final_text_deletion_inside_committed() -> None:
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the brown fox jumps over") == "the quick brown fox jumps over"


def test_final_text_unmatched_committed_tail_counts_as_substituted() -> None:
    # "fox" -> "jumps" could be a substitution or a deletion; with nothing after it to align
    # on, the policy reads it as a substitution (one unit consumed), never a duplicate.
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the quick brown jumps over") == "the quick brown fox over"
    assert agreement.final_text("the quick brown jumps over the dog") == (
        "the quick brown fox over the dog")


def test_final_text_shorter_than_committed() -> None:
    agreement = committed_agreement("the quick brown fox")
    assert agreement.final_text("the quick") == "the quick brown fox"
    assert agreement.final_text("") == "the quick brown fox"


def test_final_text_character_script_substitution() -> None:
    agreement = committed_agreement("我们今天", "zh")
    assert agreement.final_text("我们明天去公园") == "我们今天去公园"
    assert agreement.final_text("我们今天去公园。") == "我们今天去公园。"


def test_aligned_end_direct() -> None:
    committed = ["a", "b", "c", "d"]
    assert aligned_end(committed, ["a", "b", "c", "d", "e"]) == 4
    assert aligned_end(committed, ["A,", "b", "c.", "d", "e"]) == 4
    assert aligned_end(committed, ["a", "x", "b", "c", "d", "e"]) == 5  # insertion
    assert aligned_end(committed, ["a", "c", "d", "e"]) == 3  # deletion
    assert aligned_end(committed, ["a", "b", "x", "d", "e"]) == 4  # substitution
    assert aligned_end(committed, ["a", "b"]) == 2  # never past the end
    assert aligned_end(committed, []) == 0
    assert aligned_end(committed, ["p", "q", "r"]) == 0  # nothing in common


# -- property: random hypothesis streams ----------------------------------------------------

VOCAB = ["the", "a", "cat", "sat", "on", "mat", "and", "so", "my", "fellow", "Americans",
         "ask", "not", "what", "your", "country", "can", "do", "for", "you"]


def noisy(truth: list[str], rng: random.Random) -> list[str]:
    """A decode of a prefix of `truth` with the usual damage."""
    units = list(truth[:rng.randint(0, len(truth))])
    roll = rng.random()
    if units and roll < 0.15:
        units[rng.randrange(len(units))] = rng.choice(VOCAB)
    elif units and roll < 0.25:
        del units[rng.randrange(len(units))]
    elif roll < 0.35:
        units.insert(rng.randint(0, len(units)), rng.choice(VOCAB))
    elif roll < 0.40:
        units = [rng.choice(VOCAB) for _ in range(rng.randint(0, 8))]
    if units and rng.random() < 0.3:
        k = rng.randrange(len(units))
        units[k] = units[k].upper() + rng.choice([",", ".", "?", ""])
    return units


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("seed", range(40))
def test_random_streams_never_retract_and_committed_prefixes_shown_text(
        seed: int, lang: str) -> None:
    rng = random.Random(seed)
    vocab = VOCAB if lang == "en" else list("我们今天去公园看花吃饭你好世界")
    truth = [rng.choice(vocab) for _ in range(rng.randint(1, 25))]
    agreement = Agreement(lang, first_votes=2)
    previous: list[str] = []
    previous_units: list[str] | None = None
    for step in range(rng.randint(1, 30)):
        grow = truth[:max(1, len(truth) * (step + 1) // 10)]
        units = noisy(grow, rng)
        if lang == "zh":
            units = [u for u in units if not u.isspace()]
        hypothesis = join_units(units, lang)
        n = len(previous)
        committed = list(agreement.update(hypothesis))
        new_units = split_units(hypothesis, lang)
        # Never shrinks, never rewrites.
        assert committed[:n] == previous
        assert len(committed) >= n
        new = committed[n:]
        if new:
            kept_prefix = ([comparable(u) for u in new_units[:n]]
                           == [comparable(u) for u in previous])
            if kept_prefix:
                # Taken from the newest hypothesis, and never its last unit.
                assert new == new_units[n:n + len(new)]
                assert len(committed) <= len(new_units) - 1
            # Two consecutive hypotheses agreed on the newly committed units.
            assert previous_units is not None
            assert [comparable(u) for u in previous_units[n:n + len(new)]] == [
                comparable(u) for u in new]
        # What the policy compares the next hypothesis with.
        if [comparable(u) for u in new_units[:n]] != [comparable(u) for u in previous]:
            previous_units = previous + new_units[n:]
        else:
            previous_units = new_units
        previous = committed
        # Whatever is shown next starts with the committed text.
        for candidate in (hypothesis, join_units(noisy(truth, rng), lang), ""):
            shown = agreement.final_text(candidate)
            assert shown.startswith(agreement.committed_text)
            assert split_units(shown, lang)[:len(committed)] == committed


def test_first_commit_can_ask_for_three_votes() -> None:
    # The opening words have the least right context: two decodes said "la harina son",
    # the third, with more audio, heard "las arenas son". With a third vote nothing wrong is
    # committed (by default two suffice: the final corrects an opening word it is sure of).
    agreement = Agreement("es", first_votes=3)
    assert agreement.update("La harina son blan") == []
    assert agreement.update("La harina son blanque") == []
    assert agreement.update("las arenas son blanquecinas de") == []
    assert agreement.update("las arenas son blanquecinas de grano") == []
    assert agreement.update("las arenas son blanquecinas de grano medio") == [
        "las", "arenas", "son", "blanquecinas", "de"]
    # After the first commit, two votes are enough again.
    assert agreement.update("las arenas son blanquecinas de grano medio y") == [
        "las", "arenas", "son", "blanquecinas", "de", "grano", "medio"]


def test_two_steady_hypotheses_commit_the_opening_words() -> None:
    agreement = Agreement("en")
    assert agreement.update("And so my") == []
    assert agreement.update("And so my fellow") == ["And", "so", "my"]
    three = Agreement("en", first_votes=3)
    three.update("And so my")
    assert three.update("And so my fellow") == []
    assert three.update("And so my fellow Americans") == ["And", "so", "my"]


# -- the final correcting committed words ---------------------------------------------------

def _sure(units: list[str], unsure: tuple[str, ...] = ()) -> list[float]:
    return [0.2 if u in unsure else 0.9 for u in units]


def test_a_sure_final_corrects_committed_words() -> None:
    committed = ["Thomas,", "kannst", "du", "kürzer", "klären,", "wie", "weit"]
    final = ["Thomas,", "kannst", "du", "kurz", "erklären,", "wie", "weit", "das", "Projekt",
             "ist?"]
    assert corrected(committed, final, _sure(final), 0.5) == final


def test_an_unsure_final_keeps_committed_words() -> None:
    committed = ["Bonjour", "à", "tous,", "merci", "d'être", "venu", "si", "tôt"]
    final = ["Bonjour", "à", "tous,", "merci", "d'être", "venu", "c'est", "tout", "ce", "matin."]
    out = corrected(committed, final, _sure(final, ("c'est", "tout")), 0.5)
    assert out == ["Bonjour", "à", "tous,", "merci", "d'être", "venu", "si", "tôt", "ce", "matin."]


def test_by_default_the_final_corrects_committed_words_even_unsure() -> None:
    # At real-time pace, interims committed "Creo, que le miramos al" from the sentence's
    # first second; the final, which heard all of it, read the right words, none of them
    # at 0.5. By default its reading wins wherever it differs from what was committed.
    committed = ["Creo,", "que", "le", "miramos", "al"]
    final = ["Creo", "que", "deberíamos", "hablar", "con", "Javier."]
    probs = _sure(final, ("deberíamos", "hablar", "con"))
    out = corrected(committed, final, probs, RecognizerOptions().correction_prob)
    assert out == ["Creo,", "que", "deberíamos", "hablar", "con", "Javier."]


def test_committed_words_the_final_drops_are_kept() -> None:
    committed = ["the", "quick", "brown", "fox"]
    final = ["the", "brown", "fox", "jumps."]
    kept = ["the", "quick", "brown", "fox", "jumps."]
    assert corrected(committed, final, _sure(final), 0.5) == kept


def test_a_sure_insertion_inside_committed_words() -> None:
    committed = ["seine", "Sowohl", "als"]
    final = ["seine", "Sowohl-Sprechenden", "als", "auch", "Werkzeuge."]
    assert corrected(committed, final, _sure(final), 0.5) == final
    unsure = corrected(committed, final, _sure(final, ("Sowohl-Sprechenden", "auch")), 0.5)
    assert unsure == ["seine", "Sowohl", "als", "auch", "Werkzeuge."]  # "auch": the tail


def test_words_the_final_hears_before_a_chance_match_are_never_dropped() -> None:
    # Interims committed a mishearing; the final's only match with it is "die", seven words
    # in. Its first seven words, unsure or not, are an insertion: they stay.
    committed = ["Die", "Harben", "bestehend", "fährt's", "mit"]
    final = ["Wir", "haben", "bisher", "ungefähr", "250", "Stunden", "gefragt,", "die",
             "meisten", "sind", "zufrieden."]
    out = corrected(committed, final, _sure(final, ("Wir", "haben", "bisher")), 0.5)
    assert out[:7] == final[:7] and out[-3:] == ["meisten", "sind", "zufrieden."], out


def test_unsure_substitution_at_the_committed_end_keeps_the_tail() -> None:
    committed = ["el", "año", "pasamos"]
    final = ["el", "año", "pasado", "vendimos", "tres"]
    probs = _sure(final, ("pasado",))
    assert corrected(committed, final, probs, 0.5) == ["el", "año", "pasamos", "vendimos", "tres"]


def test_unit_probabilities_follow_the_words() -> None:
    assert unit_probabilities(["Hello,", "there."], [("Hello,", 0.9), ("there.", 0.4)]) == [
        0.9, 0.4]
    assert unit_probabilities(list("上个月"), [("上个", 0.8), ("月", 0.3)]) == [0.8, 0.8, 0.3]
    assert unit_probabilities(["a", "b"], [("a", 0.9)]) is None  # words changed
    assert unit_probabilities(["a", "c"], [("a", 0.9), ("b", 0.9)]) is None


def test_unit_probabilities_when_alignment_splits_a_unit() -> None:
    # Alignment words split numbers and hyphenated compounds: a unit takes the least.
    units = ["circa", "20.000", "euro,", "Sowohl-Sprechenden"]
    words = [("circa", 0.9), ("20", 0.8), (".000", 0.6), ("euro,", 0.9), ("Sowohl", 0.7),
             ("-Sprechenden", 0.4)]
    assert unit_probabilities(units, words) == [0.9, 0.6, 0.9, 0.4]


def test_copies_context_spots_a_repeated_prompt() -> None:
    context = "We finished the design last week and the testing starts on Monday."
    copied = ["the", "testing", "starts", "on", "Monday.", "The", "budget", "is", "about", "twelve"]
    assert copies_context(copied, context, "en", ["The", "budget"])
    assert not copies_context(["The", "budget", "for", "the", "next", "quarter"], context, "en", [])
    # Committed words that themselves repeat the context are not a copy by the final.
    assert not copies_context(copied, context, "en", copied[:5])


def test_repeats_context_spots_a_decode_that_writes_out_its_prompt() -> None:
    # bench/material.py's de_review: the last two sentences came out as the one before
    # last, word for word or with words left out.
    context = ("Mehr Ideen hat, wie wir Klopsten scharren können. Das Gute für das Nächste ist "
               "noch nicht benötigt. Wie wir uns ist, muss nur am Nächste geschlossen.")
    for copy in ["Gute, für das Nächste, ist noch nicht benötigt.",
                 "Gute für das noch nicht benötigt."]:
        assert repeats_context(split_units(copy, "de"), context, "de"), copy
    # What was said: new words, or the prompt's common words spread out, or too short.
    for said in ["Gibt es noch Fragen, bevor wir aufhören?",
                 "Das ist für das Team noch nicht gut.",
                 "Wie wir das Nächste nicht benötigt haben, ist nur für uns.",
                 "Noch nicht benötigt."]:
        assert not repeats_context(split_units(said, "de"), context, "de"), said
    assert not repeats_context(split_units(context, "de"), "", "de")
    # "Ask what you can do" after "ask not what your country can do for you": said so.
    assert not repeats_context(split_units("Ask what you can do.", "en"),
                               "And so my fellow Americans, ask not what your country can do "
                               "for you,", "en")
    # Characters in Chinese: ten of them make a copy, four do not.
    chinese = "大家好，我们现在开始今天的会议。"
    assert repeats_context(split_units("我们现在开始今天的会议", "zh"), chinese, "zh")
    assert not repeats_context(split_units("现在开始", "zh"), chinese, "zh")
    assert not repeats_context(split_units("上个月我们卖出了电脑", "zh"), chinese, "zh")


def test_hypotheses_from_before_the_language_settled_vote_at_once() -> None:
    earlier = ["las arenas son", "las arenas son blanque", "las arenas son blanquecinas de"]
    agreement = Agreement.with_votes("es", earlier)
    assert agreement.committed_text == "las arenas son"
    assert agreement.update("las arenas son blanquecinas de grano") == [
        "las", "arenas", "son", "blanquecinas", "de"]
    # Without them, the first hypothesis alone commits nothing.
    assert Agreement("es").update("las arenas son blanquecinas de grano") == []


def test_interims_hide_the_unit_at_the_audio_edge() -> None:
    assert without_edge("Las arenas son blanquecinas de gran ome", "Las arenas son",
                        "es") == "Las arenas son blanquecinas de gran"
    assert without_edge("Las arenas son blanques", "Las arenas son", "es") == "Las arenas son"
    assert without_edge("Las arenas", "", "es") == "Las"
    assert without_edge("Las", "", "es") == "Las"  # the first word shows at once
    assert without_edge("我们明天去", "我们", "zh") == "我们明天"
    assert without_edge("Hello there", "Hello there", "en") == "Hello there"
    assert without_edge("Other text", "Hello", "en") == "Other text"  # not a prefix: as is


def test_one_differing_character_does_not_block_a_chinese_agreement() -> None:
    # 果/古 trade places at the first character (广州市 is what was said): the rest agrees.
    assert agreed_prefix(list("果州市佛地产中"), list("古州市佛地产中间"), slack=True) == 7
    assert agreed_prefix(list("果州市佛"), list("古州市佛地"), slack=True) == 4
    assert agreed_prefix(list("果州市"), list("古州市佛"), slack=True) == 0  # too few after
    assert agreed_prefix(list("果州市佛地"), list("古洲市佛地"), slack=True) == 0  # two differ
    assert agreed_prefix(list("果州市佛地"), list("古州市佛地"), slack=False) == 0
    agreement = Agreement("zh")
    agreement.update("果州市佛地产中")
    assert agreement.update("古州市佛地产中间协会") == list("古州市佛地产中")
    # Words are not characters: a differing word still stops the agreement.
    words = Agreement("es")
    words.update("la harina son blanquecinas de")
    assert words.update("las harina son blanquecinas de grano") == []
