"""What batching would buy: Whisper's encoder and decoder cost against batch size.

    python -m bench.batching [--model base] [--seconds 5] [--batches 1,2,4,8,16]
                             [--repeats 5] [--threads N] [--out bench/results/batching.json]
                             [--quick]

The recognition scheduler of issue 13 would hand CTranslate2 several speakers' decodes at
once. Whether that pays depends on how the cost of one call grows with its batch: on a GPU
it barely grows; on a 2-core CPU it may grow nearly linearly. This measures it on the
machine at hand, with the model and the windows Interpres uses: utterances of `--seconds`
from the shared clips, padded as `WhisperEngine` pads them (whole seconds plus the 4 s
margin), one encoder call per batch, then one greedy decoder call (interims) and one beam-5
call (finals) with a different clip, language and prompt per item. Prints medians and p95
per batch and per item, and the speed-up over one-at-a-time; writes JSON. Nothing here is
asserted. CTranslate2 threads: --threads, else one recognition lane's (config.recognition_lanes,
INTERPRES_ASR_THREADS).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer

from bench.clips import clips
from bench.pipeline import percentile
from bot.asr.whisper import MAX_FRAMES, WINDOW_STEP, DecodeOptions, WhisperEngine
from bot.audio_io import read_audio
from bot.config import Config
from bot.models.embedded import resolve_asr_model

ROOT = Path(__file__).resolve().parents[1]


def windows(engine: WhisperEngine, seconds: float, count: int) -> tuple[np.ndarray, list]:
    """`count` log-mel windows of `seconds` of speech (cycling over the shared clips), padded
    as WhisperEngine pads one utterance; and the clips they came from."""
    sources = clips()
    features, used = [], []
    for i in range(count):
        clip = sources[i % len(sources)]
        audio = read_audio(clip.path)[: int(seconds * 16000)]
        mel = engine._model.feature_extractor(audio)
        frames = min(mel.shape[-1], MAX_FRAMES)
        window = min(MAX_FRAMES, -(-(frames + DecodeOptions().margin_frames) // WINDOW_STEP)
                     * WINDOW_STEP)
        padded = np.zeros((mel.shape[0], window), np.float32)
        padded[:, :frames] = mel[:, :frames]
        features.append(padded)
        used.append(clip)
    width = max(f.shape[-1] for f in features)  # equal lengths: one batch
    batch = np.stack([np.pad(f, ((0, 0), (0, width - f.shape[-1]))) for f in features])
    return batch, used


def prompts(engine: WhisperEngine, used: list) -> list[list[int]]:
    out = []
    for clip in used:
        tokenizer = Tokenizer(engine._model.hf_tokenizer, True, task="transcribe",
                              language=clip.language)
        out.append([*tokenizer.sot_sequence, tokenizer.no_timestamps])
    return out


def timed(call, repeats: int) -> list[float]:
    call()  # warm: allocations for this shape
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def stats(times: list[float], batch: int) -> dict:
    median = statistics.median(times)
    return {"median_s": round(median, 4), "p95_s": round(percentile(times, 0.95), 4),
            "per_item_s": round(median / batch, 4)}


def measure(engine: WhisperEngine, batch: int, seconds: float, repeats: int) -> dict:
    features, used = windows(engine, seconds, batch)
    model = engine._model.model
    storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(features))
    encoded = model.encode(storage, to_cpu=False)
    starts = prompts(engine, used)
    budget = int(8 * seconds) + 10

    def encode() -> None:
        model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features)),
                     to_cpu=False)

    def decode(beam: int):
        return lambda: model.generate(encoded, starts, beam_size=beam,
                                      max_length=len(starts[0]) + budget,
                                      suppress_blank=True, suppress_tokens=[-1])

    return {"batch": batch, "window_frames": int(features.shape[-1]),
            "encoder": stats(timed(encode, repeats), batch),
            "decoder_greedy": stats(timed(decode(1), repeats), batch),
            "decoder_beam5": stats(timed(decode(5), repeats), batch)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__)
    parser.add_argument("--model", default=None, help="Whisper model (default: the configured)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the configured)")
    parser.add_argument("--compute-type", default=None)
    parser.add_argument("--seconds", type=float, default=5.0, help="utterance length")
    parser.add_argument("--batches", default="1,2,4,8,16")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="CTranslate2 threads (default: one recognition lane's)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="batches 1,2 once: a smoke test")
    args = parser.parse_args(argv)
    config = Config.from_env()
    device = args.device or config.asr_device
    compute = args.compute_type or config.asr_compute_type
    batches = [1, 2] if args.quick else [int(b) for b in args.batches.split(",")]
    repeats = 1 if args.quick else args.repeats
    threads = args.threads or config.recognition_lanes()[1]
    print(f"loading Whisper {args.model or config.asr_model} on {device} ({compute}, "
          f"{threads} thread(s))...", flush=True)
    model_dir = resolve_asr_model(args.model or config.asr_model, models_dir=config.model_root)
    engine = WhisperEngine(model_dir, device=device, compute_type=compute, cpu_threads=threads)
    rows = []
    print(f"{'batch':>5} {'stage':<15} {'median s':>9} {'p95 s':>8} {'per item s':>10} "
          f"{'speed-up':>8}")
    for batch in batches:
        row = measure(engine, batch, args.seconds, repeats)
        rows.append(row)
        for stage in ("encoder", "decoder_greedy", "decoder_beam5"):
            single = rows[0][stage]["per_item_s"]
            figures = row[stage]
            print(f"{batch:>5} {stage:<15} {figures['median_s']:>9.3f} {figures['p95_s']:>8.3f} "
                  f"{figures['per_item_s']:>10.4f} {single / figures['per_item_s']:>7.2f}x",
                  flush=True)
    best = {stage: max(single_speedup(rows, stage)) for stage in
            ("encoder", "decoder_greedy", "decoder_beam5")}
    print("best speed-up per item over one at a time: " +
          ", ".join(f"{stage} {value:.2f}x" for stage, value in best.items()))
    report = {"model": args.model or config.asr_model, "device": device,
              "compute_type": compute, "seconds": args.seconds, "repeats": repeats,
              "machine": platform.processor() or platform.machine(),
              "cpu_threads": threads, "rows": rows,
              "best_speedup": {k: round(v, 2) for k, v in best.items()}}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")
    return 0


def single_speedup(rows: list[dict], stage: str) -> list[float]:
    single = rows[0][stage]["per_item_s"]
    return [single / row[stage]["per_item_s"] for row in rows]


if __name__ == "__main__":
    raise SystemExit(main())
