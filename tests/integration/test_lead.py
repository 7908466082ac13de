"""A final decode that first hears the end of the speaker's previous utterance (the lead),
on the real model and real speech."""

from __future__ import annotations

import numpy as np
import pytest

from bench.clips import clip
from bot.asr.whisper import DecodeOptions, Lead
from bot.audio_io import read_audio
from bot.events import Caption
from tests.conftest import run_pipeline

pytestmark = pytest.mark.slow


def test_a_lead_is_heard_but_not_returned_and_does_not_decide_the_language(engines):
    spanish = read_audio(clip("es_leopard_test").path)
    english = read_audio(clip("en_whisper_jfk").path)
    # An English lead in front of Spanish: detection is of the Spanish alone.
    lead = Lead(english[-4 * 16000:], "ask what you can do for your country.", "en")
    options = DecodeOptions(language="es", detect=True, beam_size=5, word_timestamps=True,
                            lead=lead)
    led = engines.asr.transcribe(spanish, options)
    assert next(iter(led.language_probs)) == "es", led.language_probs
    assert "country" not in led.text.lower() and "grano" in led.text.lower(), led.text
    # Word times are the Spanish audio's own, not moved by the lead's 4.3 s.
    assert led.words and led.words[0].start < 1.5 and led.words[-1].end <= len(spanish) / 16000
    assert led.words[0].text.lower().startswith(("las", "la")), led.words


def test_a_speakers_second_final_reads_on_from_the_first(engines):
    # The same sentence twice: the second final hears the first's end (its lead) and must
    # come out as the second sentence alone, timed inside its own utterance.
    spanish = read_audio(clip("es_leopard_test").path)
    pause = np.zeros(2 * 16000, np.float32)
    events = run_pipeline(engines, np.concatenate([spanish, pause, spanish, pause]),
                          language="es")
    finals = [e for e in events if isinstance(e, Caption) and e.final and e.is_source]
    assert len(finals) == 2, [f.text for f in finals]
    for final in finals:
        text = final.text.lower()
        assert text.count("blanquecinas") == 1 and "arenas" in text, final.text
        assert final.words and all(final.t0 - 0.5 <= w.start <= w.end <= final.t1 + 0.5
                                   for w in final.words), (final.t0, final.t1, final.words)
