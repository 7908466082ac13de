"""CTranslate2 translation with models trained and converted here (bench/tiny_models.py)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import sentencepiece

from bench.tiny_models import EN_FR, MULTI, MULTI_DIRECTIONS
from bot.config_file import TranslationModel
from bot.mt.ctranslate2 import (
    CTranslate2Model,
    ModelLayoutError,
    Request,
    _language_tokens,
    describe,
)
from bot.mt.router import TranslationRouter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def marian(tiny_models: Path) -> CTranslate2Model:
    return CTranslate2Model(TranslationModel(path=tiny_models.parent / "opus-mt-en-fr",
                                             compute_type="float32"))


@pytest.fixture(scope="module")
def m2m(tiny_models: Path) -> CTranslate2Model:
    return CTranslate2Model(TranslationModel(path=tiny_models.parent / "tiny-m2m100",
                                             languages=("en", "fr", "de"),
                                             compute_type="float32"))


def test_marian_translates_what_it_learned(marian: CTranslate2Model) -> None:
    assert marian.layout == "marian"
    assert marian.pairs() == [("en", "fr")]  # from the directory name opus-mt-en-fr
    for english, french in EN_FR:
        assert marian.translate(english, "en", "fr") == french
    assert marian.translate("   ", "en", "fr") == ""


def test_tokenisation_round_trips_through_the_copied_spm(tiny_models: Path) -> None:
    info = describe(TranslationModel(path=tiny_models.parent / "opus-mt-en-fr"))
    assert info.source_spm.name == "source.spm" and info.target_spm.name == "target.spm"
    for path, side in ((info.source_spm, 0), (info.target_spm, 1)):
        processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
        for pair in EN_FR:
            pieces = processor.encode(pair[side], out_type=str)
            assert len(pieces) > 1
            assert processor.decode(pieces) == pair[side]


def test_multilingual_target_prefix_picks_the_language(m2m: CTranslate2Model) -> None:
    assert m2m.layout == "m2m100" and m2m.multilingual
    assert set(m2m.pairs()) == {(a, b) for a in ["en", "fr", "de"] for b in ["en", "fr", "de"]
                                if a != b}
    # The same English sentence becomes French or German by the target prefix alone.
    for source, target in MULTI_DIRECTIONS:
        for text, expected in zip(MULTI[source], MULTI[target], strict=True):
            assert m2m.translate(text, source, target) == expected, (source, target, text)


def test_a_batch_mixes_pairs_and_keeps_order(m2m: CTranslate2Model) -> None:
    requests = [Request(MULTI[s][i], s, t) for s, t in MULTI_DIRECTIONS for i in range(4)]
    assert m2m.translate_batch(requests) == [MULTI[r.target][MULTI[r.source].index(r.text)]
                                             for r in requests]


def test_concurrent_callers_share_batches(m2m: CTranslate2Model) -> None:
    batches_before = m2m._batcher.batches
    results: dict[int, str] = {}
    start = threading.Barrier(12)

    def call(i: int) -> None:
        source, target = MULTI_DIRECTIONS[i % len(MULTI_DIRECTIONS)]
        start.wait()
        results[i] = m2m.translate(MULTI[source][i % 4], source, target)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, text in results.items():
        source, target = MULTI_DIRECTIONS[i % len(MULTI_DIRECTIONS)]
        assert text == MULTI[target][i % 4]
    assert len(results) == 12
    # Twelve requests arriving together ride in fewer CTranslate2 calls than twelve.
    assert m2m._batcher.batches - batches_before < 12


def test_a_failed_batch_fails_its_callers_not_the_model(m2m: CTranslate2Model) -> None:
    from bot.mt.base import TranslationError

    with pytest.raises(TranslationError, match="does not translate en to ja"):
        m2m.translate("Hello world.", "en", "ja")  # a language this configuration left out
    assert m2m.translate("Hello world.", "en", "fr") == "Bonjour le monde."


def test_a_bad_request_in_a_shared_batch_fails_only_its_caller(m2m: CTranslate2Model) -> None:
    """Eight callers at once, one asking for a pair the model does not serve: the batch
    fails, its requests are retried one by one, the seven others get their translation."""
    from bot.mt.base import TranslationError

    results: dict[int, str | Exception] = {}
    start = threading.Barrier(8)

    def call(i: int) -> None:
        start.wait()
        try:
            target = "ja" if i == 3 else "fr"
            results[i] = m2m.translate(MULTI["en"][i % 4], "en", target)
        except TranslationError as error:
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert isinstance(results.pop(3), TranslationError)
    assert results == {i: MULTI["fr"][i % 4] for i in results} and len(results) == 7


def test_router_prefers_neural_pairs_and_multilingual_over_pivots(tiny_models: Path,
                                                                    monkeypatch) -> None:
    from bot.config import Config

    monkeypatch.setenv("INTERPRES_CONFIG", str(tiny_models))
    config = Config.from_env()
    router = TranslationRouter.from_system(neural=config.translation_models)
    try:
        # A model for the pair beats the multilingual model and Apertium's en>es>fr pivot.
        assert router.route("en", "fr").engine == "ctranslate2:opus-mt-en-fr"
        # The multilingual model's direct pair beats Apertium's fr>es>en pivot.
        assert router.route("fr", "en").engine == "ctranslate2:tiny-m2m100:fr-en"
        assert router.route("de", "fr").engine == "ctranslate2:tiny-m2m100:de-fr"
        # Where the model was not configured for a language, Apertium keeps its pairs.
        assert router.route("es", "fr").engine == "apertium:es-fr"
        assert router.route("es", "de").engine == "apertium:spa-eng>ctranslate2:tiny-m2m100:en-de"
        assert router.translate(router.route("en", "fr"), EN_FR[0][0]) == EN_FR[0][1]
        router.warm_up()
    finally:
        router.close()
    plain = TranslationRouter.from_system()
    try:
        assert plain.route("en", "fr").engine == "apertium:eng-spa>apertium:es-fr"
        assert "de" not in plain.reachable("en")
    finally:
        plain.close()


def test_layout_errors_say_what_is_missing(tmp_path: Path, tiny_models: Path) -> None:
    import shutil

    with pytest.raises(ModelLayoutError, match="looked for model.bin"):
        describe(TranslationModel(path=tmp_path))
    broken = tmp_path / "opus-mt-en-fr"
    shutil.copytree(tiny_models.parent / "opus-mt-en-fr", broken)
    (broken / "target.spm").unlink()
    with pytest.raises(ModelLayoutError, match="without target.spm.*--copy_files"):
        describe(TranslationModel(path=broken))
    unnamed = tmp_path / "my-model"
    shutil.copytree(tiny_models.parent / "opus-mt-en-fr", unnamed)
    with pytest.raises(ModelLayoutError, match="Set source and target"):
        describe(TranslationModel(path=unnamed))
    assert describe(TranslationModel(path=unnamed, source="en", target="fr")).pairs() == [
        ("en", "fr")]
    m2m = TranslationModel(path=tiny_models.parent / "tiny-m2m100")
    with pytest.raises(ModelLayoutError, match="no language token for haw"):
        describe(replace(m2m, languages=("en", "haw")))
    # Every language the model has a token for and Interpres knows, when none is chosen.
    assert len(describe(m2m).languages) > 80


def test_nllb_language_tokens() -> None:
    vocabulary = ["<s>", "<pad>", "</s>", "<unk>", "▁hello", "eng_Latn", "fra_Latn", "deu_Latn",
                  "zho_Hans", "xxx_Latn"]
    tokens = _language_tokens("nllb", vocabulary)
    assert tokens == {"en": "eng_Latn", "fr": "fra_Latn", "de": "deu_Latn", "zh": "zho_Hans"}
    assert _language_tokens("m2m100", ["__en__", "__fr__", "__xx__"]) == {
        "en": "__en__", "fr": "__fr__"}


def test_finals_translations_go_before_interims_when_more_wait_than_a_batch(
        m2m: CTranslate2Model) -> None:
    from bot.mt.base import URGENT
    from bot.mt.ctranslate2 import _Batcher

    gate, batches = threading.Event(), []

    def run(requests: list[Request]) -> list[str]:
        batches.append([r.text for r in requests])
        if len(batches) == 1:
            assert gate.wait(30)  # the first batch runs while the others queue
        return m2m._run(requests)

    batcher = _Batcher(run, max_batch=2)
    english, french = MULTI["en"], MULTI["fr"]
    results: dict[int, str] = {}

    def call(i: int, urgent: bool) -> None:
        URGENT.set(urgent)  # this thread's own context
        results[i] = batcher(Request(english[i], "en", "fr"))

    first = threading.Thread(target=call, args=(0, False))
    first.start()
    while not batches:
        time.sleep(0.01)
    late = [threading.Thread(target=call, args=(i, i == 3)) for i in (1, 2, 3)]
    for thread in late:  # two interims, then a final
        thread.start()
        while len(batcher._waiting) < late.index(thread) + 1:
            time.sleep(0.01)
    gate.set()
    for thread in (first, *late):
        thread.join(30)
    assert batches[1] == [english[3], english[1]] and batches[2] == [english[2]], batches
    assert results == {i: french[i] for i in range(4)}
