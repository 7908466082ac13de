"""Neural translation with CTranslate2: OPUS-MT/Marian pairs and M2M-100/NLLB multilingual models.

A model directory is what `ct2-transformers-converter` writes (model.bin, config.json, the
vocabulary) plus the SentencePiece model(s) copied beside it with `--copy_files`:

- Marian (OPUS-MT): one pair; source.spm and target.spm.
- M2M-100: many languages; sentencepiece.bpe.model (or spm.128k.model); language tokens
  `__fr__`, given first on the source side and as the target prefix.
- NLLB: many languages; sentencepiece.bpe.model; FLORES-200 codes such as `fra_Latn`.

One `CTranslate2Model` is loaded per directory and shared by every pair it serves and every
room. Concurrent requests are gathered into one `translate_batch` call (`_Batcher`): a
caption translated into three languages by a multilingual model is one batch, not three.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from bot import languages
from bot.config_file import TranslationModel
from bot.models.embedded import ModelUnavailable
from bot.mt.base import URGENT, TranslationError

log = logging.getLogger(__name__)

# ISO 639-1 -> FLORES-200 code, for NLLB (the languages of bot.languages.NAMES it covers).
NLLB_CODES = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn",
    "ba": "bak_Cyrl", "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng", "bo": "bod_Tibt",
    "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fo": "fao_Latn", "fr": "fra_Latn",
    "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn", "he": "heb_Hebr", "hi": "hin_Deva",
    "hr": "hrv_Latn", "ht": "hat_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn",
    "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "jw": "jav_Latn", "ka": "kat_Geor",
    "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "lb": "ltz_Latn",
    "ln": "lin_Latn", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "mg": "plt_Latn",
    "mi": "mri_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva",
    "ms": "zsm_Latn", "mt": "mlt_Latn", "my": "mya_Mymr", "ne": "npi_Deva", "nl": "nld_Latn",
    "nn": "nno_Latn", "no": "nob_Latn", "oc": "oci_Latn", "pa": "pan_Guru", "pl": "pol_Latn",
    "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sa": "san_Deva",
    "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn", "sn": "sna_Latn",
    "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "su": "sun_Latn", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl", "th": "tha_Thai",
    "tk": "tuk_Latn", "tl": "tgl_Latn", "tr": "tur_Latn", "tt": "tat_Cyrl", "uk": "ukr_Cyrl",
    "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "yi": "ydd_Hebr", "yo": "yor_Latn",
    "zh": "zho_Hans",
}
_MULTILINGUAL_SPM = ("sentencepiece.bpe.model", "spm.128k.model", "sentencepiece.model")
_PAIR_NAME = re.compile(r"(?:^|[-_])([a-z]{2,3})[-_]([a-z]{2,3})$")
_MAX_BATCH = 32
# Longer inputs are cut (a caption is a sentence or two), and outputs are capped: one bad
# input must not cost seconds of decoding. Both stay within the 512 positions of OPUS-MT.
_MAX_INPUT_TOKENS = 200
_MAX_OUTPUT_TOKENS = 256


class ModelLayoutError(ModelUnavailable):
    """The directory is not a CTranslate2 translation model we can use; says what is missing."""


@dataclass(frozen=True)
class Request:
    text: str
    source: str
    target: str


class CTranslate2Model:
    """One CTranslate2 translation model: tokenise, translate in batches, detokenise."""

    def __init__(self, spec: TranslationModel) -> None:
        import ctranslate2
        import sentencepiece

        self.spec = spec
        self.path = spec.path
        self.name = spec.path.name
        self._info = info = describe(spec)
        self.layout = info.layout
        self.languages = info.languages
        self._language_token = info.language_tokens
        source_spm, target_spm = info.source_spm, info.target_spm
        self._source_sp = sentencepiece.SentencePieceProcessor(model_file=str(source_spm))
        self._target_sp = (self._source_sp if target_spm == source_spm else
                           sentencepiece.SentencePieceProcessor(model_file=str(target_spm)))
        try:
            # inter_threads=1: the engine pool already runs requests side by side, and
            # batching them here is what uses the cores well.
            self._translator = ctranslate2.Translator(
                str(self.path), device=spec.device, compute_type=spec.compute_type,
                inter_threads=1)
        except (RuntimeError, ValueError) as error:
            raise ModelLayoutError(f"{self.path}: CTranslate2 cannot load it: {error}") from None
        self._served = set(info.pairs())
        self._batcher = _Batcher(self._run, _MAX_BATCH)
        self._warm = False

    @property
    def multilingual(self) -> bool:
        return self.layout != "marian"

    def pairs(self) -> list[tuple[str, str]]:
        return self._info.pairs()

    def translators(self) -> list[CTranslate2Pair]:
        return [CTranslate2Pair(self, source, target) for source, target in self.pairs()]

    def translate(self, text: str, source: str, target: str) -> str:
        """One text; waits for (and joins) whatever batch the other threads are running."""
        if not text.strip():
            return ""
        return self._batcher(Request(text, source, target))

    def _check(self, request: Request) -> None:
        if (request.source, request.target) not in self._served:
            raise TranslationError(f"ctranslate2:{self.name} does not translate "
                                   f"{request.source} to {request.target} (configured: "
                                   f"{', '.join(self.languages)})")

    def translate_batch(self, requests: Sequence[Request]) -> list[str]:
        """Many texts, any mix of pairs this model serves, in one CTranslate2 call."""
        return self._run(list(requests))

    def warm_up(self) -> None:
        """One short translation, once: the first call allocates CTranslate2's buffers."""
        if not self._warm:
            source, target = self.pairs()[0]
            self.translate("Hello.", source, target)
            self._warm = True

    def _run(self, requests: list[Request]) -> list[str]:
        for request in requests:
            self._check(request)
        sources, prefixes = [], []
        for request in requests:
            tokens = self._source_sp.encode(request.text, out_type=str)[:_MAX_INPUT_TOKENS]
            if self.multilingual:
                tokens = [self._language_token[request.source], *tokens]
                prefixes.append([self._language_token[request.target]])
            sources.append([*tokens, "</s>"])
        try:
            results = self._translator.translate_batch(
                sources, target_prefix=prefixes or None, beam_size=self.spec.beam_size,
                max_batch_size=_MAX_BATCH, max_decoding_length=_MAX_OUTPUT_TOKENS)
        except (RuntimeError, ValueError) as error:
            raise TranslationError(f"ctranslate2:{self.name}: {error}") from error
        texts = []
        for result in results:
            tokens = result.hypotheses[0]
            if self.multilingual and tokens:
                tokens = tokens[1:]  # the target language token we forced
            texts.append(self._target_sp.decode(tokens).strip())
        return texts

    def close(self) -> None:
        """Nothing to stop: the model stays loaded for the next room."""


class CTranslate2Pair:
    """One (source, target) a CTranslate2Model serves, behind the TextTranslator interface."""

    def __init__(self, model: CTranslate2Model, source: str, target: str) -> None:
        self.model = model
        self.source = source
        self.target = target
        self.engine = (f"ctranslate2:{model.name}:{source}-{target}" if model.multilingual
                       else f"ctranslate2:{model.name}")

    def translate(self, text: str) -> str:
        return self.model.translate(text, self.source, self.target)

    def warm_up(self) -> None:
        self.model.warm_up()

    def close(self) -> None:
        self.model.close()

    def __repr__(self) -> str:
        return f"CTranslate2Pair({self.engine!r})"


class _Batcher:
    """Runs concurrent calls as one batch: the first caller runs, later ones ride along.

    Whoever finds no batch running becomes the runner and keeps running batches until no
    request is waiting; the others just wait for their result. No timer: a lone request
    runs at once, and requests that arrive during a batch form the next one. As in the
    recognition scheduler, finals' requests (`URGENT`) go before interims' when more wait
    than one batch takes, and a failed batch is retried one request at a time, so only the
    bad request's caller gets the error.
    """

    def __init__(self, run: Callable[[list[Request]], list[str]], max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        # (rank: 0 for a final's, arrival, request, its caller's future)
        self._waiting: list[tuple[int, int, Request, Future[str]]] = []
        self._arrivals = itertools.count()
        self._running = False
        self.batches = 0  # how many translate_batch calls ran (tests read it)

    def __call__(self, request: Request) -> str:
        future: Future[str] = Future()
        with self._lock:
            self._waiting.append((0 if URGENT.get() else 1, next(self._arrivals), request,
                                  future))
            if self._running:
                runner = False
            else:
                self._running = runner = True
        if runner:
            self._drain()
        return future.result()

    def _drain(self) -> None:
        while True:
            with self._lock:
                self._waiting.sort(key=lambda item: item[:2])
                batch = [(request, future) for _, _, request, future
                         in self._waiting[:self._max_batch]]
                del self._waiting[:self._max_batch]
                if not batch:
                    self._running = False
                    return
            self.batches += 1
            try:
                texts = self._run([request for request, _ in batch])
            except Exception as error:
                if len(batch) == 1:
                    batch[0][1].set_exception(error)
                    continue
                # As the recognition scheduler does: one bad request fails only its caller.
                log.warning("a translation batch of %d failed; retrying one by one",
                            len(batch), exc_info=True)
                for request, future in batch:
                    try:
                        future.set_result(self._run([request])[0])
                    except Exception as single:  # noqa: BLE001 - handed to its caller
                        future.set_exception(single)
                continue
            for (_, future), text in zip(batch, texts, strict=True):
                future.set_result(text)


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory holds, read without loading the model (for `interpres models`)."""

    layout: str
    languages: tuple[str, ...]  # Marian: (source, target); multilingual: the languages used
    language_tokens: dict[str, str]
    source_spm: Path
    target_spm: Path

    def pairs(self) -> list[tuple[str, str]]:
        if self.layout == "marian":
            return [self.languages]  # type: ignore[list-item]
        return [(a, b) for a in self.languages for b in self.languages if a != b]


def describe(spec: TranslationModel) -> ModelInfo:
    """Layout, languages and tokenisers of a model directory; ModelLayoutError says what is
    wrong with it."""
    vocabulary = _vocabulary(spec.path)
    layout = spec.layout or _detect_layout(spec.path, vocabulary)
    tokens = _language_tokens(layout, vocabulary)
    if layout == "marian":
        source_spm, target_spm = _marian_spm(spec.path)
        return ModelInfo(layout, _marian_pair(spec), tokens, source_spm, target_spm)
    spm = _multilingual_spm(spec.path)
    known = [lang for lang in tokens if lang in languages.NAMES]
    wanted = spec.languages or tuple(known)
    missing = [lang for lang in wanted if lang not in tokens]
    if missing:
        raise ModelLayoutError(
            f"{spec.path}: the {layout} model has no language token for {', '.join(missing)} "
            f"(it has {len(known)} languages Interpres knows)")
    if len(wanted) < 2:
        raise ModelLayoutError(f"{spec.path}: a multilingual model needs two languages or "
                               f"more; it would serve {', '.join(wanted) or 'none'}")
    return ModelInfo(layout, tuple(wanted), tokens, spm, spm)


def models_from(specs: Sequence[TranslationModel]) -> list[CTranslate2Model]:
    """One model per table; two tables naming the same directory the same way are one model
    in memory (the first table's languages and beam win)."""
    loaded: dict[tuple[Path, str, str], CTranslate2Model] = {}
    for spec in specs:
        key = (spec.path.resolve(), spec.device, spec.compute_type)
        if key not in loaded:
            loaded[key] = CTranslate2Model(spec)
    return list(loaded.values())


def _vocabulary(path: Path) -> list[str]:
    if not (path / "model.bin").is_file():
        raise ModelLayoutError(
            f"{path}: no CTranslate2 model here (looked for model.bin). Convert one with "
            "ct2-transformers-converter --model Helsinki-NLP/opus-mt-en-fr --output_dir "
            f"{path} --copy_files source.spm target.spm")
    for name in ("shared_vocabulary.json", "target_vocabulary.json", "shared_vocabulary.txt",
                 "target_vocabulary.txt"):
        file = path / name
        if file.is_file():
            text = file.read_text(encoding="utf-8")
            return json.loads(text) if name.endswith(".json") else text.splitlines()
    raise ModelLayoutError(f"{path}: no vocabulary file (shared_vocabulary.json or "
                           "target_vocabulary.json); was it converted by CTranslate2 4.x?")


def _detect_layout(path: Path, vocabulary: list[str]) -> str:
    tokens = set(vocabulary)
    if "fra_Latn" in tokens or "eng_Latn" in tokens:
        return "nllb"
    if "__en__" in tokens or "__fr__" in tokens:
        return "m2m100"
    if (path / "source.spm").is_file():
        return "marian"
    raise ModelLayoutError(
        f"{path}: cannot tell the model's layout: no source.spm (Marian) and no language "
        "tokens like __fr__ (M2M-100) or fra_Latn (NLLB) in its vocabulary; set layout = "
        '"marian", "m2m100" or "nllb" in its [[translation]] table')


def _language_tokens(layout: str, vocabulary: list[str]) -> dict[str, str]:
    tokens = set(vocabulary)
    if layout == "m2m100":
        return {lang: f"__{lang}__" for lang in languages.NAMES if f"__{lang}__" in tokens}
    if layout == "nllb":
        return {lang: code for lang, code in NLLB_CODES.items() if code in tokens}
    return {}


def _marian_spm(path: Path) -> tuple[Path, Path]:
    source, target = path / "source.spm", path / "target.spm"
    missing = [p.name for p in (source, target) if not p.is_file()]
    if missing:
        raise ModelLayoutError(
            f"{path}: Marian model without {' and '.join(missing)}; copy them from the "
            "original model (ct2-transformers-converter ... --copy_files source.spm target.spm)")
    return source, target


def _multilingual_spm(path: Path) -> Path:
    for name in _MULTILINGUAL_SPM:
        if (path / name).is_file():
            return path / name
    raise ModelLayoutError(
        f"{path}: no SentencePiece model (looked for {', '.join(_MULTILINGUAL_SPM)}); copy it "
        "from the original model (ct2-transformers-converter ... --copy_files "
        "sentencepiece.bpe.model)")


def _marian_pair(spec: TranslationModel) -> tuple[str, str]:
    source, target = spec.source, spec.target
    if not (source and target):
        match = _PAIR_NAME.search(spec.path.name.lower())
        try:
            if match:
                source = source or languages.normalize(match.group(1))
                target = target or languages.normalize(match.group(2))
        except languages.UnknownLanguage:
            pass
    if not (source and target):
        raise ModelLayoutError(
            f"{spec.path}: which pair does this Marian model translate? Set source and target "
            'in its [[translation]] table (source = "en", target = "fr"), or name the '
            "directory like opus-mt-en-fr")
    return source, target
