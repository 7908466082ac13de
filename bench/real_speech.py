"""Real human speech with references, in French, Spanish, Italian and English, from Debian.

    python -m bench.real_speech OUT_DIR [--debs DIR] [--files-per-language N] [--seed N]
    python -m bench.accuracy --manifest OUT_DIR/manifest.tsv [--realtime]

bench.material's non-English speech is espeak-ng, which Whisper base reads at 20-60 % WER;
on it a difference of a few points between streaming and offline is noise. Asterisk's core
sound prompts are recorded by professional voice actors (fr_CA June Wallack, es_MX and
en_US Allison Smith, it_IT Carlo Flora; CC-BY-SA-3.0) and ship their texts. This downloads
the eight Debian packages with `apt-get download` (nothing is installed; they are kept in
--debs, 80 MB), takes the prompts of 3-20 s (110-160 a language) and joins them, in a seeded
random order and with bench.material's short and long pauses, into files of about 100 s
(80 s of speech): a talk of one voice, as one participant's track. Output as
bench.material's: 16 kHz WAVs, NAME.utterances.json, manifest.tsv (~7 min a language).

The texts are Asterisk's, not verbatim transcripts: a few prompts say a word the text does
not ("ascoltare" for "sentire"), and some texts have typos ("présentemnet"). Both the
streaming and the offline decode are scored against the same text, so their difference
holds; the absolute error rates are a little high. No German or Portuguese: Debian has no
such prompts with texts.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.material import (
    RATE,
    Utterance,
    _write_manifest,
    conversation_pauses,
    join,
    write_track,
)
from bot.audio_io import read_audio

VERSION = "1.6.1-1"
VOICES = {"fr": "fr_CA_f_June", "es": "es_MX_f_Allison", "it": "it_IT_m_Carlo",
          "en": "en_US_f_Allison"}
SHORTEST, LONGEST = 3.0, 20.0  # seconds of a prompt kept (digits and one-word prompts out)
FILE_SECONDS = 80.0  # a file ends with the prompt that takes it past this


def packages(lang: str) -> tuple[str, str]:
    """The audio package and the package with the prompts' texts."""
    return f"asterisk-core-sounds-{lang}-wav", f"asterisk-core-sounds-{lang}"


def fetch(debs: Path, progress=print) -> Path:
    """Download (once) and unpack the packages into debs/root; returns that root."""
    debs.mkdir(parents=True, exist_ok=True)
    root = debs / "root"
    for lang in VOICES:
        for name in packages(lang):
            deb = debs / f"{name}_{VERSION}_all.deb"
            if (root / "usr/share/doc" / name).is_dir():
                continue  # unpacked by an earlier run
            if not deb.exists():
                progress(f"downloading {name}…")
                done = subprocess.run(["apt-get", "download", f"{name}={VERSION}"], cwd=debs,
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"apt-get download {name}={VERSION} failed: "
                                       f"{done.stderr.strip()[-300:]} (run `apt-get update` "
                                       f"first, or put the .deb files in {debs})")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def prompt_texts(path: Path) -> dict[str, str]:
    """`name: text` lines of core-sounds-LANG.txt(.gz); comments start with ';'."""
    opener = gzip.open if path.suffix == ".gz" else open
    texts = {}
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";") and text.strip():
                text = " ".join(text.split())
                # A closing stop where the prompt has none ("Please try again"): the
                # bootstrap intervals of bench.accuracy resample the reference by sentences.
                texts[name.strip()] = text if text[-1] in ".!?…" else text + "."
    return texts


def prompts(root: Path, lang: str) -> list[Utterance]:
    """Every prompt of `lang` of SHORTEST-LONGEST seconds that has a text, sorted by name."""
    docs = root / "usr/share/doc" / packages(lang)[1]
    texts = prompt_texts(next(docs.glob(f"core-sounds-{lang}.txt*")))
    sounds = root / "usr/share/asterisk/sounds" / VOICES[lang]
    out = []
    for name, text in sorted(texts.items()):
        wav = sounds / f"{name}.wav"
        if not wav.exists():
            continue
        audio = read_audio(wav)
        if SHORTEST <= len(audio) / RATE <= LONGEST:
            out.append(Utterance(audio, lang, text, f"asterisk:{VOICES[lang]}/{name}"))
    return out


def talks(pool: list[Utterance], count: int, rng: np.random.Generator) -> list[list[Utterance]]:
    """`count` talks of about FILE_SECONDS each from the pool, in a seeded order."""
    order = rng.permutation(len(pool))
    out: list[list[Utterance]] = [[]]
    seconds = 0.0
    for index in order:
        out[-1].append(pool[index])
        seconds += len(pool[index].audio) / RATE
        if seconds > FILE_SECONDS:
            if len(out) == count:
                break
            out.append([])
            seconds = 0.0
    return [talk for talk in out if talk]


def build(out_dir: Path, debs: Path, per_language: int = 4, seed: int = 0,
          progress=lambda line: print(line, file=sys.stderr, flush=True)) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    root = fetch(debs, progress)
    rng = np.random.default_rng(seed)
    rows = []
    for lang in VOICES:
        pool = prompts(root, lang)
        progress(f"{lang}: {len(pool)} prompts of {SHORTEST:g}-{LONGEST:g} s")
        for i, parts in enumerate(talks(pool, per_language, rng)):
            # join() brings every prompt to the same loudness, as bench.material's voices.
            track = join(f"{lang}_asterisk_{i}", lang, parts,
                         conversation_pauses(rng, len(parts)))
            write_track(out_dir, track)
            row = [f"{track.name}.wav", lang, f"{len(track.audio) / RATE:.2f}",
                   track.reference, f"bench/real_speech.py seed={seed}: Asterisk core sounds "
                   f"{VERSION}, {VOICES[lang]}", "CC-BY-SA-3.0 (Asterisk core sounds)"]
            assert not any(ch in field for field in row for ch in "\t\n"), row
            rows.append(row)
            progress(f"{track.name}.wav: {len(track.audio) / RATE:.1f} s, "
                     f"{len(track.spans)} prompts")
    return _write_manifest(out_dir, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--debs", type=Path, default=Path.home() / ".cache/interpres/debs",
                        help="where the .deb files are kept (default ~/.cache/interpres/debs)")
    parser.add_argument("--files-per-language", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        manifest = build(args.out_dir, args.debs, args.files_per_language, args.seed)
    except (RuntimeError, subprocess.CalledProcessError, StopIteration) as error:
        print(f"bench.real_speech: {error}", file=sys.stderr)
        return 2
    print(f"wrote {manifest} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
