"""bench/metrics.py's per-sentence scores and bench.accuracy's interval of the difference."""

from __future__ import annotations

import random

import numpy as np

from bench.accuracy import ClipResult, Row, difference_interval
from bench.metrics import Score, edit_distance, score, sentence_scores, sentences, unit_errors


def test_unit_errors_spread_the_edit_distance_over_the_reference() -> None:
    rng = random.Random(0)
    for _ in range(500):
        reference = [rng.choice("abcd") for _ in range(rng.randint(1, 8))]
        hypothesis = [rng.choice("abcde") for _ in range(rng.randint(0, 9))]
        errors = unit_errors(reference, hypothesis)
        assert len(errors) == len(reference)
        assert sum(errors) == edit_distance(reference, hypothesis)
    # A substitution, a deletion and an insertion, each where it happened.
    assert unit_errors(list("abcd"), list("xbdy")) == [1, 0, 1, 1]


def test_sentence_scores_add_up_to_the_clip_score() -> None:
    reference = "Hola amigo. ¿Qué tal estás? Bien, gracias, vendimos 3.100 unidades."
    hypothesis = "hola amigos que tal estás estás bien gracias vendimos 3.100 unidades"
    assert sentences(reference, "es") == [
        "Hola amigo.", "¿Qué tal estás?", "Bien, gracias, vendimos 3.100 unidades."]
    parts = sentence_scores(reference, hypothesis, "es")
    assert [p.length for p in parts] == [2, 3, 6]  # the normaliser splits "3.100"
    assert sum(parts, Score(0, 0)) == score(reference, hypothesis, "es")
    assert parts[2].errors == 0
    # English numbers are normalised across words: sentences still add up, or None.
    english = "We sold four hundred and fifty. That is more than last year."
    split = sentence_scores(english, "we sold 450 that is more than last year", "en")
    assert split is not None and sum(p.errors for p in split) == 0


def _clip(reference: str, streaming: str, offline: str) -> ClipResult:
    row = Row("x.wav", "es", reference, np.zeros(1, np.float32))
    return ClipResult(row, ("es",), ("es",), streaming, offline, score(reference, streaming, "es"),
                      score(reference, offline, "es"), 0.0, 0.0)


def test_the_interval_brackets_the_difference_and_narrows_with_more_sentences() -> None:
    sentence = "Vamos a empezar la reunión ahora mismo."
    wrong = "Vamos a empezar la región ahora mismo."
    few = [_clip(" ".join([sentence] * 4), " ".join([wrong, sentence, sentence, sentence]),
                 " ".join([sentence] * 4))]
    many = [_clip(" ".join([sentence] * 40), " ".join([wrong, sentence, sentence, sentence] * 10),
                  " ".join([sentence] * 40))]
    low, high = difference_interval(few)
    assert low <= 1 / 28 <= high
    many_low, many_high = difference_interval(many)
    assert many_low <= 1 / 28 <= many_high and many_high - many_low < high - low
    # Streaming and offline alike: the difference is exactly zero.
    assert difference_interval([_clip(sentence * 1, wrong, wrong)]) is None  # one sentence
    assert difference_interval([_clip(" ".join([sentence] * 3), " ".join([wrong] * 3),
                                      " ".join([wrong] * 3))]) == (0.0, 0.0)
