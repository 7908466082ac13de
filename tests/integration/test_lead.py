"""A final decode that first hears the end of the speaker's previous utterance (the lead),
on the real model and real speech."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import numpy as np
import pytest

from bench.clips import clip
from bench.material import Voices
from bench.material_texts import SENTENCES
from bot.asr.load import AsrLoad, LoadPlan
from bot.asr.scheduler import RecognitionScheduler
from bot.asr.whisper import DecodeOptions, Lead
from bot.audio_io import read_audio
from bot.events import Caption, Speaker
from bot.pipeline.agreement import comparable
from bot.pipeline.lead import next_lead
from bot.pipeline.recognizer import FinalUtterance, Recognizer, RecognizerOptions, StageTimes
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


class CountingEncodes:
    """The real CTranslate2 model, counting its encoder calls."""

    def __init__(self, model) -> None:
        self.model, self.encodes = model, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def encode(self, *args, **kwargs):
        self.encodes += 1
        return self.model.encode(*args, **kwargs)


def test_detection_after_a_lead_in_the_same_language_needs_no_second_encoding(engines,
                                                                            monkeypatch):
    english = read_audio(clip("en_leopard_test").path)
    kennedy = read_audio(clip("en_whisper_jfk").path)
    spanish = read_audio(clip("es_leopard_test").path)
    counting = CountingEncodes(engines.asr._model.model)
    monkeypatch.setattr(engines.asr._model, "model", counting)
    said = engines.asr.transcribe(english, DecodeOptions(language="en", word_timestamps=True))
    lead, _ = next_lead(said, english, 4.0)
    assert lead is not None
    counting.encodes = 0
    # The speaker goes on in the lead's language: detection read where the utterance
    # starts in the one encoding is sure of it, and agrees with the utterance alone.
    options = DecodeOptions(language="en", detect=True, word_timestamps=True, lead=lead)
    led = engines.asr.transcribe(kennedy, options)
    assert counting.encodes == 1
    assert next(iter(led.language_probs)) == "en" and led.language_probs["en"] > 0.9, \
        led.language_probs
    assert "country" in led.text.lower() and lead.text.lower() not in led.text.lower(), \
        (lead.text, led.text)
    # Another language after the lead: not sure of the lead's there, so the utterance is
    # encoded alone too, and detection is the Spanish one.
    counting.encodes = 0
    led = engines.asr.transcribe(spanish, replace(options, language="es"))
    assert counting.encodes == 2
    assert next(iter(led.language_probs)) == "es", led.language_probs


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


class Recording:
    """The real engine, keeping the options of every final decode it runs."""

    def __init__(self, engine) -> None:
        self.engine, self.finals = engine, []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def transcribe_batch(self, items, background=False):
        self.finals += [options for _, options in items if options.word_timestamps]
        return self.engine.transcribe_batch(items, background)


class Loaded(RecognitionScheduler):
    """The real scheduler, on a given rung of load shedding whatever it measures."""

    def __init__(self, busy: float) -> None:
        super().__init__()
        self.busy = busy

    def plan(self, interval: float, beam: int) -> LoadPlan:
        return AsrLoad.plan_for(self.busy, interval, beam)


def recognise(engines, audio: np.ndarray, busy: float) -> tuple[list, Recording]:
    """Live recognition of `audio` (each interim back before more audio) on the rung of
    load shedding for lanes `busy` (0..1), whatever this machine's speed; its captions in
    order and the engine's record of final decodes."""
    recording = Recording(engines.asr)
    scheduler = Loaded(busy)
    recognizer = Recognizer(Speaker("p1", "Ana"), recording, engines.workers,  # type: ignore
                            RecognizerOptions(language="es", shed_load=True), time.monotonic,
                            StageTimes(), scheduler)

    async def main() -> list:
        out = []
        for start in range(0, len(audio), 1600):
            out += await recognizer.feed(audio[start:start + 1600])
            if recognizer._in_flight is not None:
                await asyncio.wait({recognizer._in_flight.task})
            out += recognizer.collect()
        return out + await recognizer.flush()

    try:
        events = asyncio.run(main())
    finally:
        scheduler.close()
    return [e.caption if isinstance(e, FinalUtterance) else e for e in events
            if isinstance(e, Caption | FinalUtterance)], recording


@pytest.mark.parametrize("overloaded", [False, True], ids=["calm", "overloaded"])
def test_the_last_rung_of_load_shedding_decodes_live_finals_without_the_lead(engines,
                                                                              overloaded):
    spanish = read_audio(clip("es_leopard_test").path)
    pause = np.zeros(2 * 16000, np.float32)
    captions, recording = recognise(engines, np.concatenate([spanish, pause, spanish, pause]),
                                    1.0 if overloaded else 0.0)
    finals = [c for c in captions if c.final]
    # (Interims further apart can cut the clip at its inner pauses: two finals or more.)
    assert sum("arenas" in f.text.lower() for f in finals) == 2, [f.text for f in finals]
    first = next(i for i, c in enumerate(captions) if c.final)
    assert any(not c.final for c in captions[first + 1:])  # later utterances showed words
    leads = [options.lead for options in recording.finals]
    # Calm: the second utterance's final hears the first's end; overloaded: no final does.
    assert any(lead is not None for lead in leads) != overloaded, leads


@pytest.mark.parametrize("busy", [0.0, 0.7], ids=["calm", "loaded"])
def test_a_final_hears_the_speakers_last_utterances_unless_the_lanes_are_busy(engines, busy):
    # Three sentences with pauses: the third's final hears the first two (the pause between
    # them cut short) and reads on from both; on the middle rung of load shedding only the
    # second, and the first's words end the prompt instead.
    voices = Voices()
    said = [voices.espeak("es", text).audio for text in SENTENCES["es"][:3]]
    pause = np.zeros(2 * 16000, np.float32)
    captions, recording = recognise(engines, np.concatenate(
        [part for audio in said for part in (audio, pause)]), busy)
    finals = [c.text for c in captions if c.final]
    assert len(finals) >= 3, finals
    led = [options for options in recording.finals if options.lead is not None]
    assert led, "no final heard a lead"
    last = led[-1]
    one_utterance = len(said[1]) + 16000  # the second sentence, with its pads
    if busy == 0.0:
        assert len(last.lead.audio) > one_utterance, (last.lead.text, finals)
    else:
        assert len(last.lead.audio) < one_utterance, (last.lead.text, finals)
        first = {comparable(w) for w in finals[0].split()}
        assert first & {comparable(w) for w in last.context.split()}, (last.context, finals)
