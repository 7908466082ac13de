"""Choosing the lead (the end of the last final that the next final decode hears first)."""

from __future__ import annotations

import numpy as np

from bot.asr.whisper import (
    LEAD_GAP_SAMPLES,
    SAMPLE_RATE,
    DecodeOptions,
    Lead,
    Transcript,
    batch_key,
    heard,
)
from bot.events import Word
from bot.pipeline.lead import chained, next_lead, within


def transcript(words: list[tuple[float, float, str]], language: str = "es") -> Transcript:
    joiner = "" if language == "zh" else " "
    return Transcript(text=joiner.join(w for _, _, w in words), language=language,
                      words=tuple(Word(s, e, w) for s, e, w in words))


def test_the_lead_is_the_last_whole_words_that_fit():
    audio = np.arange(8 * SAMPLE_RATE, dtype=np.float32)
    said = transcript([(0.5, 1.0, "La"), (1.1, 2.0, "próxima"), (2.2, 3.0, "reunión"),
                       (3.5, 4.5, "será"), (4.6, 7.6, "mañana.")])
    lead, before = next_lead(said, audio, 5.0)
    assert lead is not None
    assert lead.text == "será mañana." and lead.language == "es"
    assert before == "La próxima reunión"
    # From just before "será" (its onset kept), not into "reunión", to the utterance's end.
    assert lead.audio[0] == int(3.4 * SAMPLE_RATE) and lead.audio[-1] == audio[-1]
    audio[:] = 0  # a copy: the utterance's buffer is reused
    assert lead.audio[-1] != 0


def test_no_lead_without_word_times_or_when_no_word_fits():
    audio = np.zeros(8 * SAMPLE_RATE, np.float32)
    assert next_lead(Transcript("Hola.", "es"), audio, 5.0) == (None, "Hola.")
    long_word = transcript([(0.5, 7.9, "Holaaaa")])
    assert next_lead(long_word, audio, 5.0) == (None, "Holaaaa")
    assert next_lead(long_word, audio, 0.0)[0] is None


def test_the_lead_reads_as_decoded_where_alignment_split_a_word():
    # Alignment splits "3.100" into "3" and ".100"; the lead forced as "3 .100" is not what
    # the model read.
    audio = np.zeros(8 * SAMPLE_RATE, np.float32)
    words = ((0.2, 1.0, "Vendimos"), (3.2, 3.5, "3"), (3.5, 4.0, ".100"), (4.1, 5.0, "unidades."))
    said = Transcript("Vendimos 3.100 unidades.", "es",
                      words=tuple(Word(s, e, w) for s, e, w in words))
    lead, before = next_lead(said, audio, 5.0)
    assert lead is not None and lead.text == "3.100 unidades." and before == "Vendimos"


def test_characters_join_without_spaces():
    audio = np.zeros(3 * SAMPLE_RATE, np.float32)
    lead, before = next_lead(transcript([(0.1, 0.5, "广州"), (0.6, 1.0, "市"),
                                         (1.1, 2.9, "房地产")], "zh"), audio, 5.0)
    assert lead is not None and lead.text == "广州市房地产" and before == ""


def test_a_lead_is_used_in_its_language_and_within_the_window():
    lead = Lead(np.zeros(5 * SAMPLE_RATE, np.float32), "será mañana.", "es")
    assert chained([lead], "es", 10 * SAMPLE_RATE, 400)[0] is lead
    assert chained([lead], "en", 10 * SAMPLE_RATE, 400)[0] is None
    assert chained([], "es", 10 * SAMPLE_RATE, 400)[0] is None
    # 5.3 s of lead and 21 s of utterance do not fit 30 s less a 4 s margin.
    assert chained([lead], "es", 21 * SAMPLE_RATE, 400)[0] is None


def test_the_encoder_hears_the_lead_first_and_batches_by_that_length():
    lead = Lead(np.ones(SAMPLE_RATE, np.float32), "será", "es")
    audio = np.full(2 * SAMPLE_RATE, 2.0, np.float32)
    options = DecodeOptions(language="es", lead=lead)
    joined = heard(audio, options)
    assert len(joined) == lead.samples + len(audio) == 3 * SAMPLE_RATE + LEAD_GAP_SAMPLES
    assert joined[0] == 1.0 and joined[SAMPLE_RATE] == 0.0 and joined[-1] == 2.0
    assert batch_key(audio, options) == batch_key(joined, DecodeOptions(language="es"))
    assert heard(audio, DecodeOptions()) is audio


def test_the_last_utterances_leads_join_as_one_with_a_gap_between():
    a = Lead(np.full(4 * SAMPLE_RATE, 1.0, np.float32), "Hola a todos.", "es")
    b = Lead(np.full(3 * SAMPLE_RATE, 2.0, np.float32), "¿Empezamos?", "es")
    c = Lead(np.full(5 * SAMPLE_RATE, 3.0, np.float32), "Sí, vamos.", "es")
    lead, left_out = chained([a, b, c], "es", 2 * SAMPLE_RATE, 400)
    assert lead is not None and left_out == ""
    assert lead.text == "Hola a todos. ¿Empezamos? Sí, vamos." and lead.language == "es"
    assert len(lead.audio) == 12 * SAMPLE_RATE + 2 * LEAD_GAP_SAMPLES
    assert lead.audio[4 * SAMPLE_RATE] == 0.0 and lead.audio[-1] == 3.0  # the pause, cut
    # A long utterance leaves room for the newest only; the others' words go to the prompt.
    lead, left_out = chained([a, b, c], "es", 19 * SAMPLE_RATE, 400)
    assert lead is not None and lead.text == "Sí, vamos."
    assert left_out == "Hola a todos. ¿Empezamos?"
    assert chained([a, b, c], "es", 22 * SAMPLE_RATE, 400) == (None, "")
    assert chained([a, b, c], "en", 2 * SAMPLE_RATE, 400) == (None, "")
    assert chained([], "es", 2 * SAMPLE_RATE, 400) == (None, "")
    # Only leads in the decode's language, from the newest back.
    other = Lead(np.ones(SAMPLE_RATE, np.float32), "Hello.", "en")
    assert chained([other, c], "es", 2 * SAMPLE_RATE, 400)[0] is c


def test_leads_are_kept_as_far_back_as_the_seconds_allow():
    leads = [Lead(np.zeros(n * SAMPLE_RATE, np.float32), str(n), "es") for n in (6, 5, 4, 3)]
    kept, older = within(leads, 13.0)  # 3 + 4 + 5 s and two gaps, not the 6 s one
    assert [lead.text for lead in kept] == ["5", "4", "3"] and [o.text for o in older] == ["6"]
    assert within(leads, 1.0) == (leads[-1:], leads[:-1])  # the newest always
    assert within([], 5.0) == ([], [])
