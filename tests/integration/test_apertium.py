"""The real Apertium pairs installed by setup, through their long-running pipelines."""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.mt.apertium import ApertiumTranslator, installed_pairs
from bot.mt.base import TranslationError
from bot.mt.router import TranslationRouter

SANDS = "Las arenas son blanquecinas."


@pytest.fixture
def spa_eng() -> Iterator[ApertiumTranslator]:
    translator = ApertiumTranslator("spa-eng", "es", "en")
    yield translator
    translator.close()


def test_installed_pairs_are_named_in_iso_639_1() -> None:
    pairs = installed_pairs()
    assert pairs[("es", "en")] == "spa-eng"  # not the spa-eng_US variant
    assert pairs[("en", "es")] == "eng-spa"
    assert pairs[("fr", "es")] == "fr-es"
    assert pairs[("es", "fr")] == "es-fr"
    assert pairs[("es", "pt")] == "es-pt"  # not es-pt_BR
    assert pairs[("pt", "es")] == "pt-es"
    assert pairs[("es", "it")] == "spa-ita"
    assert pairs[("it", "es")] == "ita-spa"
    assert pairs[("en", "ca")] == "eng-cat"  # not one of the Valencian variants
    assert pairs[("ca", "en")] == "cat-eng"


def test_translates_spanish_to_english(spa_eng: ApertiumTranslator) -> None:
    english = spa_eng.translate(SANDS)
    assert "sands" in english
    assert spa_eng.engine == "apertium:spa-eng"


def test_output_is_one_clean_line(spa_eng: ApertiumTranslator) -> None:
    english = spa_eng.translate("Hola Xyzzyq,\nel perro [come] <b> a/b\0 $5 @casa\\")
    # Unknown words come back without '*', stream-format characters as they were typed.
    assert english.startswith("Hello Xyzzyq, the dog [")
    assert english.endswith("] <b> to/b $5 @house\\")
    assert "*" not in english and "\n" not in english and "\0" not in english


def test_empty_text_starts_nothing(spa_eng: ApertiumTranslator) -> None:
    assert spa_eng.translate("") == ""
    assert spa_eng.translate(" \n\t") == ""
    assert spa_eng.pids == ()


def test_one_pipeline_serves_many_sentences(spa_eng: ApertiumTranslator) -> None:
    spa_eng.translate(SANDS)  # the first call pays for starting the pipeline
    pids = spa_eng.pids
    assert pids
    seconds = []
    for n in range(20):
        start = time.perf_counter()
        english = spa_eng.translate(f"Tengo {n} perros y una casa grande en la ciudad.")
        seconds.append(time.perf_counter() - start)
        assert str(n) in english and "dogs" in english
    assert spa_eng.pids == pids
    print(f"\napertium spa-eng per sentence: median {statistics.median(seconds) * 1000:.2f} ms, "
          f"max {max(seconds) * 1000:.2f} ms")


@pytest.mark.parametrize("stage", ["first", "middle", "last"])
def test_restarts_after_a_stage_is_killed(spa_eng: ApertiumTranslator, stage: str) -> None:
    spa_eng.translate(SANDS)
    before = spa_eng.pids
    victim = {"first": 0, "middle": len(before) // 2, "last": -1}[stage]
    os.kill(before[victim], signal.SIGKILL)
    assert "sands" in spa_eng.translate(SANDS)
    assert spa_eng.pids and not set(spa_eng.pids) & set(before)


def test_restarts_after_a_stage_hangs() -> None:
    translator = ApertiumTranslator("spa-eng", "es", "en", timeout=1.0)
    try:
        translator.translate(SANDS)
        before = translator.pids
        os.kill(before[1], signal.SIGSTOP)
        assert "sands" in translator.translate(SANDS)  # one timeout, then a fresh pipeline
        assert not set(translator.pids) & set(before)
    finally:
        translator.close()


def test_gives_up_when_the_pipeline_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "xxx-yyy.mode").write_text("false")
    translator = ApertiumTranslator("xxx-yyy", "es", "en", modes_dir=tmp_path)
    with pytest.raises(TranslationError, match="apertium:xxx-yyy"):
        translator.translate(SANDS)
    translator.close()


def test_concurrent_callers_get_their_own_answers(spa_eng: ApertiumTranslator) -> None:
    sentences = [f"Tengo {n} perros y una casa grande en la ciudad." for n in range(40)]
    one_by_one = [spa_eng.translate(sentence) for sentence in sentences]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(spa_eng.translate, sentences)) == one_by_one
    assert all(str(n) in english for n, english in enumerate(one_by_one))


def test_router_goes_from_french_to_english_via_spanish() -> None:
    router = TranslationRouter.from_system()
    try:
        route = router.route("fr", "en")
        assert route.engine == "apertium:fr-es>apertium:spa-eng"
        english = router.translate(route, "Le chat noir mange du poisson.")
        assert "cat" in english and "fish" in english
        assert router.route("de", "es").engine == "whisper:translate>apertium:eng-spa"
    finally:
        router.close()
