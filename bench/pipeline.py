"""Benchmark of the per-speaker pipeline: latency, real-time factor, accuracy, memory.

    python -m bench.pipeline [--manifest ../shared/audio/manifest.tsv]
                             [--out bench/results/pipeline.json] [--fast] [--passes 1]

Every clip of the manifest goes through the real streaming pipeline at real-time pace (a
wall clock, as a live speaker), with automatic language detection, translated into en, es
and fr (except its own language), speech on. Offline reference: one beam-5 decode of the
whole clip with faster-whisper's `transcribe()` on the same model. Prints a table and
writes JSON; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from faster_whisper import WhisperModel

from bench.clips import normalise, word_error_rate
from bot.asr.whisper import LANGUAGE_PROMPTS
from bot.audio_io import read_audio
from bot.config import Config
from bot.events import Caption, Speaker, SpeechAudio
from bot.languages import CHARACTER_SCRIPTS
from bot.models.embedded import resolve_asr_model
from bot.pipeline.engines import Engines
from bot.pipeline.interpreter import InterpreterOptions
from bot.pipeline.recognizer import RecognizerOptions
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("en", "es", "fr")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict:
    return {"n": len(values),
            "median": round(statistics.median(values), 3) if values else None,
            "p95": round(percentile(values, 0.95), 3) if values else None,
            "max": round(max(values), 3) if values else None}


async def stream_clip(engines: Engines, audio, language: str, realtime: bool) -> dict:
    targets = tuple(t for t in TARGETS if t != language)
    options = PipelineOptions(interpreter=InterpreterOptions(targets=targets, speech=True),
                              recognizer=RecognizerOptions())
    clock = wall_clock() if realtime else None
    captions: list[Caption] = []
    speech: list[SpeechAudio] = []
    lag_samples: list[float] = []
    async with SpeakerPipeline(Speaker("b1", "bench"), engines, options, clock=clock,
                               input_chunks=0 if realtime else 4) as pipeline:
        stop = asyncio.Event()

        async def ticker() -> None:  # event-loop lag: a 10 ms timer's lateness
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                lag_samples.append(time.perf_counter() - before - 0.01)

        async def feed() -> None:
            step = 320  # 20 ms, as the WebRTC room pushes
            begin = time.monotonic()
            for i, start in enumerate(range(0, len(audio), step)):
                await pipeline.push(audio[start:start + step])
                if realtime:
                    await asyncio.sleep(max(0.0, begin + (i + 1) * 0.02 - time.monotonic()))
            await pipeline.end()

        tick = asyncio.create_task(ticker())
        feeder = asyncio.create_task(feed())
        started = time.perf_counter()
        async for event in pipeline.events():
            if isinstance(event, Caption):
                captions.append(event)
            elif isinstance(event, SpeechAudio):
                speech.append(event)
        await feeder
        stop.set()
        await tick
        elapsed = time.perf_counter() - started
        times = dict(pipeline.times.seconds)
        pre_roll = options.recognizer.segmenter.pre_roll
    return {"captions": captions, "speech": speech, "times": times, "elapsed": elapsed,
            "loop_lag": lag_samples, "pre_roll": pre_roll,
            "skipped_interims": pipeline.times.skipped_interims}


def latencies(result: dict) -> dict[str, list[float]]:
    captions, speech = result["captions"], result["speech"]
    out: dict[str, list[float]] = {k: [] for k in (
        "onset_to_first_interim", "end_to_final_source",
        "final_source_to_final_translated_text", "final_source_to_final_translated_speech",
        "end_to_final_translated", "end_to_first_audio", "committed_word_lag")}
    segments: dict[str, list[Caption]] = {}
    for caption in captions:
        segments.setdefault(caption.segment, []).append(caption)
    first_audio: dict[str, float] = {}
    for clip in speech:
        first_audio.setdefault(clip.segment, clip.play_at or clip.emitted_at or 0.0)
    for seg, items in segments.items():
        source = [c for c in items if c.is_source]
        finals = [c for c in source if c.final and c.text]
        if not finals:
            continue
        final = finals[0]
        end = final.words[-1].end if final.words else final.t1
        interims = [c for c in source if not c.final]
        if interims:
            out["onset_to_first_interim"].append(interims[0].emitted_at - (final.t0 +
                                                                          result["pre_roll"]))
        out["end_to_final_source"].append(final.emitted_at - end)
        translated = [c for c in items if c.final and not c.is_source and c.text]
        for c in translated:
            # Text routes (Apertium) and routes through Whisper's speech translation (a
            # second decode) are reported apart: their costs differ by an order of magnitude.
            kind = "speech" if c.engine.startswith("whisper:") else "text"
            out[f"final_source_to_final_translated_{kind}"].append(c.emitted_at -
                                                                  final.emitted_at)
        if translated:
            out["end_to_final_translated"].append(max(c.emitted_at for c in translated) - end)
        if seg in first_audio:
            out["end_to_first_audio"].append(first_audio[seg] - end)
        # Committed-word lag: each final word's end -> when it first appeared committed.
        committed_at: list[tuple[int, float]] = []
        count = 0
        for c in source:
            n = len(c.committed.split()) if final.source_lang not in CHARACTER_SCRIPTS else len(
                c.committed)
            if n > count:
                committed_at += [(i, c.emitted_at) for i in range(count, n)]
                count = n
        for i, at in committed_at:
            if i < len(final.words):
                out["committed_word_lag"].append(at - final.words[i].end)
    return out


def offline_transcript(model: WhisperModel, audio, language: str) -> str:
    # Same language prompt as the pipeline, so the comparison is about streaming alone.
    segments, _ = model.transcribe(audio, beam_size=5, language=language,
                                   initial_prompt=LANGUAGE_PROMPTS.get(language))
    return " ".join(s.text.strip() for s in segments)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "audio" /
                        "manifest.tsv")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "pipeline.json")
    parser.add_argument("--fast", action="store_true", help="feed as fast as possible")
    parser.add_argument("--passes", type=int, default=1)
    args = parser.parse_args(argv)

    with open(args.manifest, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    config = Config.from_env()
    print("loading engines…", file=sys.stderr)
    engines = Engines.load(config)
    offline = WhisperModel(str(resolve_asr_model(config.asr_model)), device="cpu",
                           compute_type=config.asr_compute_type)
    all_lat: dict[str, list[float]] = {}
    per_clip = []
    audio_seconds = 0.0
    stage_seconds: dict[str, float] = {}
    lags: list[float] = []
    errors_stream = errors_offline = units = 0.0
    lang_ok = 0
    print(f"{'clip':40} {'lang':>4} {'det':>4} {'WER str':>8} {'WER off':>8} {'fin.lat':>8}",
          file=sys.stderr)
    for _ in range(args.passes):
        for row in rows:
            path = args.manifest.parent / row["file"]
            language = row["language"]
            audio = read_audio(path)
            result = asyncio.run(stream_clip(engines, audio, language, not args.fast))
            audio_seconds += len(audio) / 16000
            for stage, seconds in result["times"].items():
                stage_seconds[stage] = stage_seconds.get(stage, 0.0) + seconds
            lags += result["loop_lag"]
            lat = latencies(result)
            for key, values in lat.items():
                all_lat.setdefault(key, []).extend(values)
            finals = [c for c in result["captions"] if c.final and c.is_source and c.text]
            chars = language in CHARACTER_SCRIPTS
            streamed = ("" if chars else " ").join(c.text for c in finals)
            detected = sorted({c.source_lang for c in finals})
            lang_ok += detected == [language]
            off = offline_transcript(offline, audio, language)
            ref_units = (len(normalise(row["reference_transcript"]).replace(" ", "")) if chars
                         else len(normalise(row["reference_transcript"]).split()))
            wer_s = word_error_rate(row["reference_transcript"], streamed, chars)
            wer_o = word_error_rate(row["reference_transcript"], off, chars)
            errors_stream += wer_s * ref_units
            errors_offline += wer_o * ref_units
            units += ref_units
            fin = statistics.median(lat["end_to_final_source"]) if lat[
                "end_to_final_source"] else float("nan")
            print(f"{row['file'][:40]:40} {language:>4} {','.join(detected):>4} "
                  f"{wer_s:8.3f} {wer_o:8.3f} {fin:8.3f}", file=sys.stderr)
            per_clip.append({"file": row["file"], "language": language, "detected": detected,
                             "streaming": streamed, "offline": off,
                             "error_rate_streaming": round(wer_s, 4),
                             "error_rate_offline": round(wer_o, 4),
                             "metric": "CER" if chars else "WER"})
    rtf = {stage: round(s / audio_seconds, 4) for stage, s in sorted(stage_seconds.items())}
    rtf["streaming_loop"] = round(sum(v for k, v in stage_seconds.items()
                                      if k.startswith(("asr_interim", "asr_final", "vad"))) /
                                  audio_seconds, 4)
    rtf["all_stages"] = round(sum(stage_seconds.values()) / audio_seconds, 4)
    report = {
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "mode": "fast" if args.fast else "realtime",
        "asr_model": config.asr_model,
        "audio_seconds": round(audio_seconds, 2),
        "latency_s": {k: summary(v) for k, v in all_lat.items()},
        "real_time_factor": rtf,
        "event_loop_lag_s": {"p50": round(percentile(lags, 0.5) or 0, 4),
                             "p99": round(percentile(lags, 0.99) or 0, 4),
                             "max": round(max(lags, default=0), 4)},
        "error_rate": {"streaming": round(errors_stream / units, 4),
                       "offline": round(errors_offline / units, 4),
                       "difference_points": round(100 * (errors_stream - errors_offline) /
                                                  units, 2)},
        "language_id_accuracy": round(lang_ok / (len(rows) * args.passes), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "clips": per_clip,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print("\nlatency (s)                          n  median     p95", file=sys.stderr)
    for key, value in report["latency_s"].items():
        print(f"  {key:32} {value['n']:4} {value['median']!s:>7} {value['p95']!s:>7}",
              file=sys.stderr)
    print(f"real-time factor: {rtf}", file=sys.stderr)
    print(f"error rate: {report['error_rate']}  language id: "
          f"{report['language_id_accuracy']}", file=sys.stderr)
    print(f"event-loop lag: {report['event_loop_lag_s']}  peak RSS: "
          f"{report['peak_rss_mb']} MB", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    engines.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
