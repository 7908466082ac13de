"""The recognition scheduler with the real Whisper base model: batched decodes give what
single ones give, finals go first, interims are superseded or go stale, and one bad request
fails only its caller."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
from dataclasses import replace

import numpy as np
import pytest

from bench.clips import clips
from bot.asr.scheduler import Dropped, RecognitionScheduler
from bot.asr.whisper import DecodeOptions, Transcript, WhisperEngine, batch_key
from bot.audio_io import read_audio
from bot.pipeline.engines import INTERIM_NICE

pytestmark = pytest.mark.slow
SECONDS = 4.6  # every clip cut to this: one encoder window (9 s with the margin), one batch


def cut(index: int, seconds: float = SECONDS) -> np.ndarray:
    return read_audio(clips()[index].path)[:int(seconds * 16000)]


def requests(beam: int) -> list[tuple[np.ndarray, DecodeOptions]]:
    """Every shared clip, with what live decodes vary: a language given or detected, a
    forced prefix, a previous-text prompt (which moves the decoder's start token)."""
    items = []
    for i, item in enumerate(clips()):
        options = DecodeOptions(beam_size=beam, word_timestamps=beam > 1, fallback=beam > 1)
        if i % 2:
            options = replace(options, language=item.language)
        else:
            options = replace(options, allowed=("en", "es", "fr", "de", "zh"), detect=True)
        if i == 1:
            options = replace(options, prefix="Mister Quilter")
        if i == 3:
            options = replace(options, context="Hablamos de la playa.", context_language="es")
        items.append((cut(i), options))
    return items


def same(batched: Transcript, single: Transcript) -> None:
    assert batched.text == single.text
    assert batched.language == single.language
    assert batched.avg_logprob == pytest.approx(single.avg_logprob, abs=1e-3)
    assert batched.no_speech_prob == pytest.approx(single.no_speech_prob, abs=1e-3)
    for lang, p in single.language_probs.items():
        assert batched.language_probs[lang] == pytest.approx(p, abs=1e-3)
    assert [w.text for w in batched.words] == [w.text for w in single.words]
    for a, b in zip(batched.words, single.words, strict=True):
        assert abs(a.start - b.start) <= 0.021 and abs(a.end - b.end) <= 0.021


@pytest.mark.parametrize("beam", [1, 5], ids=["greedy", "beam5"])
def test_batched_decodes_equal_single_ones_on_the_shared_clips(engines, beam):
    asr: WhisperEngine = engines.asr
    items = requests(beam)
    assert len({batch_key(audio, options) for audio, options in items}) == 1
    singles = [asr.transcribe(audio, options) for audio, options in items]
    batched = asr.transcribe_batch(items)
    for one, many in zip(singles, batched, strict=True):
        assert isinstance(many, Transcript), many
        same(many, one)
    assert sum(bool(t.text) for t in singles) == len(items)
    assert any(t.words for t in singles) == (beam > 1)


def test_lengths_at_the_edge_of_an_encoder_window_batch_together(engines):
    """Equal keys must stack: the feature extractor makes one frame more than whole 10 ms
    hops, and a key that forgot it put a length just under a window's edge with longer ones
    (a live room's batch of 8 failed and went one by one)."""
    asr: WhisperEngine = engines.asr
    options = DecodeOptions(language="en", beam_size=1, margin_frames=100)
    audio = read_audio(clips()[0].path)
    # 15999 samples make 100 frames, + the margin a whole 2 s window; 16000 make 101.
    lengths = [15840, 15999, 16000, 16159, 8000]
    keys = {}
    for n in lengths:
        keys.setdefault(batch_key(audio[:n], options), []).append(n)
    for group in keys.values():
        results = asr.transcribe_batch([(audio[:n], options) for n in group])
        assert all(isinstance(r, Transcript) for r in results), results
    assert len(keys) == 2  # the window edge splits them in two batches, no more


def run(coro):
    return asyncio.run(coro)


def test_concurrent_decodes_are_served_in_batches_with_single_results(engines):
    scheduler = RecognitionScheduler(max_batch=4)
    items = requests(1)
    try:
        async def main() -> list[Transcript]:
            blocker = threading.Event()
            stall = asyncio.ensure_future(scheduler.call(blocker.wait))
            await asyncio.sleep(0.05)
            pending = [asyncio.ensure_future(scheduler.decode(engines.asr, audio, options))
                       for audio, options in items]
            await asyncio.sleep(0.05)
            blocker.set()
            await stall
            return await asyncio.gather(*pending)

        results = run(main())
    finally:
        scheduler.close()
    for (audio, options), result in zip(items, results, strict=True):
        same(result, engines.asr.transcribe(audio, options))
    stats = scheduler.stats["final"]
    assert stats.served == len(items)
    # Seven requests, batches of at most four: two calls.
    assert stats.batched_items / stats.batches == pytest.approx((4 * 4 + 3 * 3) / 7)


def test_finals_go_first_then_interims_by_deadline(engines):
    scheduler = RecognitionScheduler()
    order: list[str] = []
    greedy = DecodeOptions(language="en")

    async def main() -> None:
        blocker = threading.Event()
        stall = asyncio.ensure_future(scheduler.call(blocker.wait))
        await asyncio.sleep(0.05)

        async def submit(name: str, **kwargs) -> None:
            await scheduler.decode(engines.asr, cut(0, 3.0 if "late" in name else 2.0),
                                   kwargs.pop("options", greedy), **kwargs)
            order.append(name)

        tasks = [
            asyncio.ensure_future(submit("interim-late", kind="interim", speaker="a",
                                         deadline=scheduler.clock() + 60)),
            asyncio.ensure_future(submit("interim-soon", kind="interim", speaker="b",
                                         deadline=scheduler.clock() + 30)),
            asyncio.ensure_future(submit("final", kind="final", speaker="c",
                                         options=replace(greedy, beam_size=5))),
        ]
        await asyncio.sleep(0.05)
        blocker.set()
        await stall
        await asyncio.gather(*tasks)

    try:
        run(main())
    finally:
        scheduler.close()
    assert order == ["final", "interim-soon", "interim-late"]


def test_an_interim_is_superseded_by_its_speakers_next_request_and_goes_stale(engines):
    scheduler = RecognitionScheduler()

    async def main() -> list:
        blocker = threading.Event()
        stall = asyncio.ensure_future(scheduler.call(blocker.wait))
        await asyncio.sleep(0.05)
        now = scheduler.clock()
        audio, options = cut(0, 2.0), DecodeOptions(language="en")

        def submit(**kwargs):
            return asyncio.ensure_future(scheduler.decode(engines.asr, audio, options,
                                                          **kwargs))

        first = submit(kind="interim", speaker="ana")
        await asyncio.sleep(0.01)
        second = submit(kind="interim", speaker="ana")
        other = submit(kind="interim", speaker="bob", deadline=now + 0.2)
        await asyncio.sleep(0.01)
        final = submit(kind="final", speaker="ana")
        await asyncio.sleep(0.4)  # bob's interim is past its deadline
        blocker.set()
        await stall
        return await asyncio.gather(first, second, other, final, return_exceptions=True)

    try:
        first, second, other, final = run(main())
    finally:
        scheduler.close()
    assert isinstance(first, Dropped) and str(first) == "superseded"
    assert isinstance(second, Dropped) and str(second) == "superseded"
    assert isinstance(other, Dropped) and str(other) == "expired"
    assert isinstance(final, Transcript) and "fellow" in final.text.lower()
    assert scheduler.stats["interim"].dropped == 3


def test_a_failing_request_fails_only_its_caller(engines):
    """One request whose prompt cannot fit the decoder (a 600-word phrase list) and one
    with a language the model does not know, batched with good ones: only they fail."""
    scheduler = RecognitionScheduler()
    audio = cut(0, 2.0)
    good = DecodeOptions(language="en")
    too_long = replace(good, hotwords=" ".join(["Karvonix"] * 600))
    unknown = replace(good, language="xx")

    async def main() -> list:
        blocker = threading.Event()
        stall = asyncio.ensure_future(scheduler.call(blocker.wait))
        await asyncio.sleep(0.05)
        tasks = [asyncio.ensure_future(scheduler.decode(engines.asr, audio, options))
                 for options in (good, too_long, good, unknown)]
        await asyncio.sleep(0.05)
        blocker.set()
        await stall
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # The thread survived: the next decode works.
        results.append(await scheduler.decode(engines.asr, audio, good))
        return results

    try:
        results = run(main())
    finally:
        scheduler.close()
    first, long_one, third, unknown_one, after = results
    for ok in (first, third, after):
        assert isinstance(ok, Transcript) and "fellow" in ok.text.lower(), ok
    assert isinstance(long_one, Exception) and not isinstance(long_one, Dropped)
    assert isinstance(unknown_one, Exception) and not isinstance(unknown_one, Dropped)
    assert scheduler.stats["final"].failed == 2


def test_plan_sheds_interims_while_finals_wait(engines):
    scheduler = RecognitionScheduler()

    async def main() -> tuple:
        calm = scheduler.plan(0.5, 3)
        blocker = threading.Event()
        stall = asyncio.ensure_future(scheduler.call(blocker.wait))
        await asyncio.sleep(0.05)
        final = asyncio.ensure_future(scheduler.decode(engines.asr, cut(0, 2.0),
                                                       DecodeOptions(language="en")))
        await asyncio.sleep(0.05)
        busy = scheduler.plan(0.5, 3)
        blocker.set()
        await stall
        await final
        return calm, busy

    try:
        calm, busy = run(main())
    finally:
        scheduler.close()
    assert (calm.interval, calm.beam) == (0.5, 3)
    assert busy.interval > 0.5 and busy.beam == 1


class Gated:
    """The real engine behind a gate: a call starts, says so, and waits for the gate (so a
    test knows which lanes are taken, and for how long)."""

    def __init__(self, engine: WhisperEngine) -> None:
        self.engine, self.gate = engine, threading.Event()
        self.started: list[str] = []
        self.background: list[bool] = []

    def transcribe_batch(self, items, background=False):
        self.started.append(items[0][1].prefix)
        self.background.append(background)
        assert self.gate.wait(60)
        return self.engine.transcribe_batch(items, background)


def test_two_lanes_run_at_once_and_interims_leave_one_to_finals(engines):
    scheduler = RecognitionScheduler(lanes=2)
    gated = Gated(engines.asr)
    greedy = DecodeOptions(language="en")

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def until(condition) -> None:
            deadline = loop.time() + 30
            while not condition():
                assert loop.time() < deadline
                await asyncio.sleep(0.01)

        first = asyncio.ensure_future(scheduler.decode(
            gated, cut(0, 2.0), replace(greedy, prefix="A"), kind="interim", speaker="a",
            deadline=math.inf))
        await until(lambda: gated.started == ["A"])
        second = asyncio.ensure_future(scheduler.decode(
            gated, cut(0, 2.0), replace(greedy, prefix="B"), kind="interim", speaker="b",
            deadline=math.inf))
        await asyncio.sleep(0.3)
        # A lane is idle, but it is the finals' lane: the second interim waits.
        assert gated.started == ["A"] and scheduler.queued() == 1
        # A final runs on it, while the first interim still holds the other lane.
        final = await asyncio.wait_for(scheduler.decode(
            engines.asr, cut(1, 3.0), replace(greedy, beam_size=5), speaker="c"), 60)
        assert final.text and not first.done()
        gated.gate.set()
        for task in (first, second):
            assert (await asyncio.wait_for(task, 60)).text
        assert gated.started == ["A", "B"] and gated.background == [True, True]
        # Two calls (tests' stalls, warm-ups) run at once: each waits for the other.
        both = threading.Barrier(2)
        await asyncio.wait_for(asyncio.gather(scheduler.call(lambda: both.wait(30)),
                                              scheduler.call(lambda: both.wait(30))), 60)

    try:
        run(main())
    finally:
        scheduler.close()
    assert scheduler.stats["interim"].served == 2 and scheduler.stats["final"].served == 1


def niceness_of_threads() -> list[int]:
    values = []
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/stat") as stat:
            values.append(int(stat.read().rsplit(")", 1)[1].split()[16]))
    return values


def test_interims_decode_on_a_niced_copy_with_the_same_words():
    from bot.config import Config
    from bot.models.embedded import resolve_asr_model

    config = Config.from_env()
    asr = WhisperEngine(resolve_asr_model(config.asr_model, models_dir=config.model_root),
                        cpu_threads=1, workers=2, background_nice=INTERIM_NICE)
    for audio, options in requests(1)[:3]:
        same(asr.transcribe(audio, options, background=True), asr.transcribe(audio, options))
    assert INTERIM_NICE in niceness_of_threads()  # the copy's CTranslate2 worker
