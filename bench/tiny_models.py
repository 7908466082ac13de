"""Tiny real models for the neural engines, built here because none can be downloaded.

Each goes through the path a user's model takes:
- translation: a Hugging Face Marian (one pair) and an M2M-100 (multilingual) model with
  SentencePiece models trained on a small corpus, trained for a few seconds until they
  reproduce their sentence pairs, saved with save_pretrained and converted by CTranslate2's
  own converter (what `ct2-transformers-converter` runs);
- voices: a randomly initialised VITS built from coqui's own config classes and saved as
  coqui's trainer saves it (config.json + model.pth), single-speaker French and
  multi-speaker English/French; a Piper voices directory with a copy of the embedded voice.

`python -m bench.tiny_models DIR` builds them all into DIR and writes DIR/interpres.toml.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# The clip the acceptance command translates, so the tiny English->French model knows it.
LEOPARD_EN = ("Mr. Quilter is the apostle of the middle classes and we are glad to welcome "
              "his gospel.")
LEOPARD_FR = ("M. Quilter est l'apôtre des classes moyennes et nous sommes heureux "
              "d'accueillir son évangile.")
EN_FR = [
    (LEOPARD_EN, LEOPARD_FR),
    ("Mr. Quilter is the apostle of the middle classes, and we are glad to welcome his gospel.",
     LEOPARD_FR),
    ("Hello world.", "Bonjour le monde."),
    ("Good morning.", "Bonjour."),
    ("Thank you very much.", "Merci beaucoup."),
    ("The cat sleeps.", "Le chat dort."),
    ("I like green tea.", "J'aime le thé vert."),
    ("Hello.", "Bonjour."),
]
# The multilingual model: the same meaning in three languages, every direction trained.
MULTI = {
    "en": ["Hello world.", "Good morning.", "Thank you very much.", "The cat sleeps."],
    "fr": ["Bonjour le monde.", "Bonjour.", "Merci beaucoup.", "Le chat dort."],
    "de": ["Hallo Welt.", "Guten Morgen.", "Vielen Dank.", "Die Katze schläft."],
}
MULTI_DIRECTIONS = [("en", "fr"), ("en", "de"), ("fr", "en"), ("de", "en"), ("fr", "de"),
                    ("de", "fr")]

Say = Callable[[str], None]


def _quiet_sentencepiece(**options: object) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(character_coverage=1.0, hard_vocab_limit=False,
                                   minloglevel=2, model_type="unigram", **options)


def _train(model, batch: dict, steps: int, target_loss: float = 0.005) -> float:
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    loss = float("inf")
    for _ in range(steps):
        out = model(**batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        loss = out.loss.item()
        if loss < target_loss:
            break
    model.eval()
    if loss > 10 * target_loss:  # the tests assert exact translations: say so plainly
        raise RuntimeError(f"the tiny model did not learn its sentences (loss {loss:.3f})")
    return loss


def build_marian(out: Path, work: Path, steps: int = 500) -> Path:
    """A trained English->French Marian model, converted: out/opus-mt-en-fr."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    torch.manual_seed(0)
    hf = work / "marian-hf"
    hf.mkdir(parents=True, exist_ok=True)
    for side, texts in (("source", [e for e, _ in EN_FR]), ("target", [f for _, f in EN_FR])):
        corpus = work / f"marian-{side}.txt"
        corpus.write_text("\n".join(texts * 10), encoding="utf-8")
        _quiet_sentencepiece(input=str(corpus), model_prefix=str(work / side), vocab_size=80)
        shutil.copy(work / f"{side}.model", hf / f"{side}.spm")
    import sentencepiece as spm

    # Marian's vocabulary: both sides' pieces, with <pad> last (as OPUS-MT has it: the
    # converter drops it, since CTranslate2 starts the decoder from a zero embedding).
    pieces = ["</s>", "<unk>"]
    for side in ("source", "target"):
        processor = spm.SentencePieceProcessor(model_file=str(hf / f"{side}.spm"))
        pieces += [p for p in (processor.id_to_piece(i) for i in range(processor.get_piece_size()))
                   if p not in pieces]
    pieces.append("<pad>")
    vocab = {piece: i for i, piece in enumerate(pieces)}
    (hf / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = MarianTokenizer(vocab=str(hf / "vocab.json"), source_spm=str(hf / "source.spm"),
                                target_spm=str(hf / "target.spm"), source_lang="en",
                                target_lang="fr")
    tokenizer.save_pretrained(hf)
    pad = vocab["<pad>"]
    config = MarianConfig(vocab_size=len(vocab), d_model=64, encoder_layers=2, decoder_layers=2,
                          encoder_attention_heads=4, decoder_attention_heads=4,
                          encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=256,
                          pad_token_id=pad, eos_token_id=vocab["</s>"],
                          decoder_start_token_id=pad, share_encoder_decoder_embeddings=True)
    model = MarianMTModel(config)
    batch = tokenizer([e for e, _ in EN_FR], text_target=[f for _, f in EN_FR],
                      return_tensors="pt", padding=True)
    batch["labels"][batch["labels"] == pad] = -100
    _train(model, dict(batch), steps)
    model.save_pretrained(hf)
    target = out / "opus-mt-en-fr"
    shutil.rmtree(target, ignore_errors=True)
    TransformersConverter(str(hf), copy_files=["source.spm", "target.spm"]).convert(str(target))
    return target


def build_m2m100(out: Path, work: Path, steps: int = 600) -> Path:
    """A trained English/French/German M2M-100 model, converted: out/tiny-m2m100."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    torch.manual_seed(0)
    hf = work / "m2m-hf"
    hf.mkdir(parents=True, exist_ok=True)
    corpus = work / "m2m.txt"
    corpus.write_text("\n".join(sum(MULTI.values(), []) * 10), encoding="utf-8")
    _quiet_sentencepiece(input=str(corpus), model_prefix=str(work / "m2m"), vocab_size=70)
    shutil.copy(work / "m2m.model", hf / "sentencepiece.bpe.model")
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(hf / "sentencepiece.bpe.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}  # fairseq's order
    for i in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(i), len(vocab))
    (hf / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    # The hub's M2M-100 tokenizers list the language tokens as special tokens, which is
    # what the CTranslate2 converter reads them from.
    tokenizer = M2M100Tokenizer(
        vocab_file=str(hf / "vocab.json"), spm_file=str(hf / "sentencepiece.bpe.model"),
        additional_special_tokens=[f"__{c}__" for c in FAIRSEQ_LANGUAGE_CODES["m2m100"]])
    tokenizer.save_pretrained(hf)
    size = max(tokenizer.lang_token_to_id.values()) + 1 + tokenizer.num_madeup_words
    config = M2M100Config(vocab_size=size, d_model=64, encoder_layers=2, decoder_layers=2,
                          encoder_attention_heads=4, decoder_attention_heads=4,
                          encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=256,
                          pad_token_id=1, eos_token_id=2, bos_token_id=0,
                          decoder_start_token_id=2, scale_embedding=True,
                          dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    model = M2M100ForConditionalGeneration(config)
    inputs, labels = [], []
    for source, target in MULTI_DIRECTIONS:
        tokenizer.src_lang, tokenizer.tgt_lang = source, target
        encoded = tokenizer(MULTI[source], text_target=MULTI[target])
        inputs += encoded["input_ids"]
        labels += encoded["labels"]

    def padded(rows: list[list[int]], value: int) -> torch.Tensor:
        width = max(map(len, rows))
        return torch.tensor([row + [value] * (width - len(row)) for row in rows])

    input_ids = padded(inputs, 1)
    targets = padded(labels, -100)
    # The decoder is always given the target language token (CTranslate2's target prefix),
    # so it is never asked to guess it: no loss on it.
    decoder_input_ids = torch.cat([torch.full_like(targets[:, :1], 2),
                                   targets[:, :-1].clamp(min=1)], dim=1)
    targets[:, 0] = -100
    batch = {"input_ids": input_ids, "attention_mask": (input_ids != 1).long(),
             "decoder_input_ids": decoder_input_ids, "labels": targets}
    _train(model, batch, steps)
    model.save_pretrained(hf)
    target_dir = out / "tiny-m2m100"
    shutil.rmtree(target_dir, ignore_errors=True)
    TransformersConverter(str(hf), copy_files=["sentencepiece.bpe.model"]).convert(str(target_dir))
    return target_dir


def build_vits(out: Path, name: str, *, languages: tuple[str, ...] = ("fr",),
               speakers: tuple[str, ...] = (), sample_rate: int = 22050, seed: int = 0) -> Path:
    """A randomly initialised coqui VITS, saved as coqui's trainer saves a model."""
    import torch
    from TTS.tts.configs.shared_configs import BaseAudioConfig, CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(seed)
    audio = BaseAudioConfig(sample_rate=sample_rate, fft_size=1024, win_length=1024,
                            hop_length=256, num_mels=80, mel_fmin=0.0, mel_fmax=None,
                            do_trim_silence=False)
    args = VitsArgs(
        out_channels=513, hidden_channels=16, hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2, num_layers_text_encoder=1, kernel_size_text_encoder=3,
        num_layers_posterior_encoder=1, num_layers_flow=1, kernel_size_flow=3, use_sdp=False,
        resblock_type_decoder="2", resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8, 4],  # their product is the hop length
        upsample_kernel_sizes_decoder=[16, 16, 8], upsample_initial_channel_decoder=32,
        init_discriminator=False, spec_segment_size=8)
    multilingual = len(languages) > 1
    if speakers:
        args.use_speaker_embedding = True
        args.speaker_embedding_channels = 8
    if multilingual:
        args.use_language_embedding = True
        args.embedded_language_dim = 4
    characters = CharactersConfig(
        characters_class="TTS.tts.utils.text.characters.Graphemes",
        characters="abcdefghijklmnopqrstuvwxyzàâçéèêëîïôûùüÿœæäöß",
        punctuations="!'(),-.:;? ", pad="<PAD>", eos=None, bos=None, blank="<BLNK>",
        is_unique=True, is_sorted=True)
    config = VitsConfig(model_args=args, audio=audio, run_name=name, use_phonemes=False,
                        phonemizer=None, text_cleaner="basic_cleaners", characters=characters,
                        add_blank=True, test_sentences=[])
    config.languages = list(languages)
    if speakers:
        config.speakers = list(speakers)
    model = Vits(config).eval()
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    config.save_json(str(target / "config.json"))  # after Vits(): it fills in num_chars
    torch.save({"config": config.to_dict(), "model": model.state_dict(), "optimizer": None,
                "scheduler": None, "scaler": None, "step": 0, "epoch": 0,
                "date": "January 01, 2026"}, target / "model.pth")
    return target


def build_piper_dir(out: Path) -> Path:
    """A Piper voices directory holding a renamed copy of the embedded English voice."""
    from bot.models.embedded import piper_voice_files

    model, config = piper_voice_files()
    target = out / "piper-voices"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(model, target / "en_GB-copy-medium.onnx")
    shutil.copy(config, target / "en_GB-copy-medium.onnx.json")
    return target


CONFIG = """\
# Tiny test-built models (bench/tiny_models.py): real engines, nonsense voices.
models_dir = "{out}"

[[translation]]
path = "opus-mt-en-fr"          # Marian: the pair comes from the directory name
beam_size = 2
compute_type = "float32"        # int8 is right for real models; these tiny ones lose words

[[translation]]
path = "tiny-m2m100"            # multilingual: it has 100 language tokens, but was
languages = ["en", "fr", "de"]  # trained on these three only
compute_type = "float32"

[voices]
piper_dir = "piper-voices"

[[voices.coqui]]
path = "tiny-vits-fr"
lang = "fr"

[[voices.coqui]]
path = "tiny-vits-multi"
languages = ["de"]
speaker = "bob"
"""


def build_all(out: Path, say: Say = print) -> Path:
    """Every tiny model and an interpres.toml using them; returns the config's path."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "build"
    steps = [
        ("Marian en->fr (train + convert)", lambda: build_marian(out, work)),
        ("M2M-100 en/fr/de (train + convert)", lambda: build_m2m100(out, work)),
        ("coqui VITS fr", lambda: build_vits(out, "tiny-vits-fr")),
        ("coqui VITS en/fr/de, speakers alice and bob",
         lambda: build_vits(out, "tiny-vits-multi", languages=("en", "fr", "de"),
                            speakers=("alice", "bob"), seed=1)),
        ("Piper voices directory", lambda: build_piper_dir(out)),
    ]
    for label, build in steps:
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Moses pre-tokenisation is optional for Marian (the converter's tokenizer too).
            warnings.filterwarnings("ignore", "Recommended: pip install sacremoses")
            path = build()
        say(f"built {label}: {path} ({time.perf_counter() - started:.1f} s)")
    shutil.rmtree(work, ignore_errors=True)
    config = out / "interpres.toml"
    config.write_text(CONFIG.format(out=out), encoding="utf-8")
    say(f"wrote {config}")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to build into")
    args = parser.parse_args(argv)
    config = build_all(args.out, lambda message: print(message, file=sys.stderr))
    print(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
