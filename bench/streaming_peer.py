"""Interpres's streaming recognition next to ufal/whisper_streaming, on the same audio and model.

    python -m bench.streaming_peer --manifest PATH.tsv [--files a.wav,b.wav]
                                   [--out bench/results/streaming_peer.json] [--skip-peer]

The manifest is the one bench.accuracy reads (columns `file`, `language`,
`reference_transcript`). Each clip is streamed at real-time pace (a wall clock: audio second
t becomes available at wall second t) through two systems, one after the other, both with
the manifest's language forced and the same Whisper model (bot.models.embedded):

- Interpres: the real speaker pipeline (RecognizerOptions defaults, its finals' lead from
  [asr] lead_seconds / INTERPRES_LEAD_SECONDS as the server's; no translation, no speech),
  fed 20 ms chunks. Its text is the join of its final source captions.
- the peer: whisper_streaming's OnlineASRProcessor (bench/vendor/whisper_online.py,
  LocalAgreement-2: a word is committed once two consecutive decodes agree on it), with its
  defaults: 1 s minimum chunk, "segment" buffer trimming at 15 s, no VAD, beam 5. As its own
  simulation does, it decodes whatever audio has arrived whenever a decode ends and at least
  a minimum chunk is new, and calls finish() at the end (which emits the unconfirmed tail).
  Its text is every committed word plus that tail.

Per system: commit latency (for each word, the wall time it was first committed minus the
time its end was spoken: median, p95, n), WER (CER for languages written without spaces) of
its text against the reference (bench.metrics), and compute: seconds spent decoding
(Interpres: its stage timers, which include waits in its recognition queue; the
peer: inside process_iter/finish) over audio seconds
(RTF), and process CPU seconds. Also the offline error rate: one beam-5 transcribe() of the
whole clip, language forced, as bench.accuracy computes it. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from bench.accuracy import ManifestError, Row, feed, offline_transcript, read_manifest
from bench.metrics import NOTES, Score, metric, score, total
from bench.pipeline import latencies, summary
from bench.vendor.whisper_online import FasterWhisperASR, OnlineASRProcessor
from bot.config import Config
from bot.events import Caption, Speaker
from bot.languages import CHARACTER_SCRIPTS
from bot.models.embedded import ModelUnavailable, resolve_asr_model
from bot.pipeline.engines import Engines
from bot.pipeline.interpreter import InterpreterOptions
from bot.pipeline.recognizer import RecognizerOptions
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock

RATE = 16000
MIN_CHUNK = 1.0  # whisper_online.py's --min-chunk-size default
BUFFER_TRIMMING = ("segment", 15.0)  # its --buffer_trimming / --buffer_trimming_sec defaults
SYSTEMS = ("interpres", "peer")


# -- the peer ------------------------------------------------------------------------------

class LocalFasterWhisperASR(FasterWhisperASR):
    """whisper_streaming's faster-whisper backend on our model directory and device (the
    original hard-codes CUDA float16). cpu_threads=0 is CTranslate2's default, as Interpres's
    WhisperEngine uses."""

    def __init__(self, model_dir: Path, device: str, compute_type: str) -> None:
        self._device, self._compute_type = device, compute_type
        super().__init__(lan="auto", model_dir=str(model_dir))

    def load_model(self, modelsize=None, cache_dir=None, model_dir=None) -> WhisperModel:
        return WhisperModel(model_dir, device=self._device, compute_type=self._compute_type,
                            cpu_threads=0)


@dataclass(frozen=True)
class Committed:
    """A word as the peer committed it: its span in audio seconds, and when (wall seconds
    since the stream began). `tail`: unconfirmed, given out by finish() at the end."""

    start: float
    end: float
    text: str
    at: float
    tail: bool = False

    @property
    def lag(self) -> float:
        return self.at - self.end


def stream_peer(online: OnlineASRProcessor, audio: np.ndarray, min_chunk: float = MIN_CHUNK,
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> tuple[list[Committed], float]:
    """Feed `audio` by the wall clock as whisper_online.py's simultaneous mode does; every
    committed word with its time, and the seconds spent decoding."""
    words: list[Committed] = []
    busy = 0.0
    began = clock()
    fed = 0
    step = round(min_chunk * RATE)
    while fed < len(audio):
        now = clock() - began
        arrived = min(len(audio), int(now * RATE))
        if arrived - fed < step and arrived < len(audio):
            # Wait for a minimum chunk, or for the end of the file if that comes first.
            sleep(max(0.0, min(fed + step, len(audio)) / RATE - now))
            continue
        online.insert_audio_chunk(audio[fed:arrived])
        fed = arrived
        # process_iter returns the new words joined; `commited` keeps them one by one.
        before = len(online.commited)
        started = clock()
        try:
            online.process_iter()
        except AssertionError as error:  # whisper_online.py's loop logs these and goes on
            print(f"    peer: process_iter failed: {error!r}", file=sys.stderr)
        busy += clock() - started
        words += [Committed(b, e, text, clock() - began)
                  for b, e, text in online.commited[before:]]
    # finish() joins the last hypothesis' unconfirmed words without decoding again; read
    # them one by one from the buffer it reads.
    tail = list(online.transcript_buffer.complete())
    started = clock()
    online.finish()
    busy += clock() - started
    words += [Committed(b, e, text, clock() - began, tail=True) for b, e, text in tail]
    return words, busy


def run_peer(asr: LocalFasterWhisperASR, row: Row) -> dict:
    asr.original_language = row.language  # one loaded model serves every clip's language
    online = OnlineASRProcessor(asr, buffer_trimming=BUFFER_TRIMMING, logfile=sys.stderr)
    cpu = time.process_time()
    words, busy = stream_peer(online, row.audio)
    cpu = time.process_time() - cpu
    confirmed = [w for w in words if not w.tail]
    return {"text": asr.sep.join(w.text for w in words).strip(),
            "lags": [w.lag for w in words], "compute": busy, "cpu": cpu,
            "extra": {"committed_text": asr.sep.join(w.text for w in confirmed).strip(),
                      "tail_text": asr.sep.join(w.text for w in words if w.tail).strip(),
                      "tail_words": len(words) - len(confirmed),
                      "confirmed_latency_s": summary([w.lag for w in confirmed])}}


# -- Interpres ------------------------------------------------------------------------------

async def _stream_interpres(engines: Engines, audio: np.ndarray, language: str,
                            lead_seconds: float) -> tuple[list[Caption], float, float]:
    options = PipelineOptions(recognizer=RecognizerOptions(language=language,
                                                           lead_seconds=lead_seconds),
                              interpreter=InterpreterOptions(targets=(), speech=False))
    clock = wall_clock()
    captions: list[Caption] = []
    async with SpeakerPipeline(Speaker("b1", "bench"), engines, options,
                               clock=clock) as pipeline:
        feeder = asyncio.create_task(feed(pipeline, audio, clock))
        async for event in pipeline.events():
            if isinstance(event, Caption) and event.is_source:
                captions.append(event)
        began = await feeder
    return captions, sum(pipeline.times.seconds.values()), began


def run_interpres(engines: Engines, row: Row, lead_seconds: float) -> dict:
    cpu = time.process_time()
    captions, busy, began = asyncio.run(_stream_interpres(engines, row.audio, row.language,
                                                          lead_seconds))
    cpu = time.process_time() - cpu
    # bench.pipeline's committed-word lag, on the clock that started `began` before the audio
    lags = latencies({"captions": captions, "speech": [], "pre_roll": 0.0}
                     )["committed_word_lag"]
    joiner = "" if row.language in CHARACTER_SCRIPTS else " "
    finals = [c for c in captions if c.final and c.text]
    return {"text": joiner.join(c.text.strip() for c in finals), "compute": busy, "cpu": cpu,
            "lags": [lag - began for lag in lags], "extra": {"final_captions": len(finals)}}


# -- one clip, and the report ---------------------------------------------------------------

def measure(row: Row, engines: Engines, asr: LocalFasterWhisperASR, skip_peer: bool,
            lead_seconds: float) -> dict:
    seconds = len(row.audio) / RATE
    clip = {"file": row.file, "language": row.language, "metric": metric(row.language),
            "audio_seconds": round(seconds, 2), "reference": row.reference}
    runs = {"interpres": run_interpres(engines, row, lead_seconds)}
    if not skip_peer:
        runs["peer"] = run_peer(asr, row)
    started = time.perf_counter()
    offline = offline_transcript(asr.model, row.audio, row.language)
    clip["offline"] = {"text": offline, "seconds": round(time.perf_counter() - started, 2),
                       **_rate(score(row.reference, offline, row.language))}
    for name, run in runs.items():
        clip[name] = {"text": run["text"],
                      **_rate(score(row.reference, run["text"], row.language)),
                      "commit_latency_s": summary(run["lags"]),
                      "compute_seconds": round(run["compute"], 2),
                      "cpu_seconds": round(run["cpu"], 2),
                      "rtf": round(run["compute"] / seconds, 3), **run["extra"]}
        clip[name]["lags"] = [round(lag, 3) for lag in run["lags"]]
    return clip


def _rate(result: Score) -> dict:
    return {"errors": result.errors, "units": result.length, "rate": round(result.rate, 4)}


def totals(clips: list[dict]) -> dict:
    """Over all clips, per metric (WER and CER don't add up): error rates weighted by
    reference length, latencies over every word, RTF over all audio."""
    out: dict[str, dict] = {}
    for name in sorted({c["metric"] for c in clips}):
        group = [c for c in clips if c["metric"] == name]
        audio = sum(c["audio_seconds"] for c in group)
        entry: dict = {"clips": len(group), "audio_seconds": round(audio, 2),
                       "offline": _rate(total(Score(c["offline"]["errors"],
                                                    c["offline"]["units"]) for c in group))}
        for system in SYSTEMS:
            runs = [c[system] for c in group if system in c]
            if runs:
                compute = sum(r["compute_seconds"] for r in runs)
                entry[system] = {**_rate(total(Score(r["errors"], r["units"]) for r in runs)),
                                 "commit_latency_s": summary([x for r in runs
                                                              for x in r["lags"]]),
                                 "compute_seconds": round(compute, 2),
                                 "cpu_seconds": round(sum(r["cpu_seconds"] for r in runs), 2),
                                 "rtf": round(compute / audio, 3)}
        out[name] = entry
    return out


def print_table(data: dict) -> None:
    systems = [s for s in SYSTEMS if any(s in c for c in data["clips"])]
    head = f"{'file':34} {'lang':>4} {'sec':>5} {'metric':>6}"
    for system in systems:
        head += f" | {system[:9]:>9} {'lag50':>5} {'lag95':>5} {'n':>3} {'RTF':>5}"
    print(head + " | offline")
    rows = [(c["file"], c["language"], c) for c in data["clips"]]
    rows += [(f"total {name}", "", t) for name, t in data["totals"].items()]
    for label, language, item in rows:
        seconds = item["audio_seconds"]
        line = f"{label[:34]:34} {language:>4} {seconds:5.0f} {item.get('metric', ''):>6}"
        for system in systems:
            run = item.get(system)
            if run is None:
                line += f" | {'-':>9} {'':5} {'':5} {'':3} {'':5}"
                continue
            lag = run["commit_latency_s"]
            line += (f" | {run['rate']:9.1%} {_seconds(lag['median'])} {_seconds(lag['p95'])}"
                     f" {lag['n']:3} {run['rtf']:5.2f}")
        print(line + f" | {item['offline']['rate']:7.1%}")
    print("lag50/lag95: commit latency median/p95 (s) over n words; RTF: decode seconds / "
          "audio seconds")
    for note in data["notes"]:
        print(f"note: {note}")


def _seconds(value: float | None) -> str:
    return f"{value:5.2f}" if value is not None else f"{'-':>5}"


# -- the command ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming_peer",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--files", default="", help="comma-separated files of the manifest "
                        "to run (default: all)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--skip-peer", action="store_true",
                        help="Interpres and the offline decode only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = Config.from_env()
    wanted = [name.strip() for name in args.files.split(",") if name.strip()]
    try:
        rows = read_manifest(args.manifest)
        unknown = sorted(set(wanted) - {row.file for row in rows})
        if unknown:
            raise ManifestError(f"not in {args.manifest}: {', '.join(unknown)}")
        model_dir = resolve_asr_model(config.asr_model)
    except (ManifestError, ModelUnavailable) as error:
        print(f"bench.streaming_peer: {error}", file=sys.stderr)
        return 2
    rows = [row for row in rows if not wanted or row.file in wanted]
    # Interpres's finals hear the lead the server would run with ([asr] lead_seconds).
    print(f"loading Whisper {config.asr_model} (finals hear {config.asr_lead_seconds:g} s "
          "of lead)…", file=sys.stderr)
    engines = Engines.load(config, speech=False)
    try:
        # The peer's model serves the offline decode too (same directory and settings).
        asr = LocalFasterWhisperASR(model_dir, config.asr_device, config.asr_compute_type)
        # Warm up as whisper_online.py does: its transcribe() decodes (with word timestamps);
        # WhisperModel.transcribe alone would not, its segments being a lazy generator.
        asr.transcribe(rows[0].audio[:RATE])
        clips = []
        for row in rows:
            print(f"  {row.file} ({len(row.audio) / RATE:.1f} s)", file=sys.stderr)
            clips.append(measure(row, engines, asr, args.skip_peer, config.asr_lead_seconds))
    finally:
        engines.close()
    data = {
        "manifest": str(args.manifest),
        "model": {"asr": config.asr_model, "directory": str(model_dir),
                  "interim": config.asr_interim_model or config.asr_model,
                  "device": config.asr_device, "compute_type": config.asr_compute_type,
                  "lead_seconds": config.asr_lead_seconds},
        "method": {
            "pace": "real time: audio second t is available at wall second t",
            "interpres": "SpeakerPipeline, RecognizerOptions(language=manifest, lead_seconds="
                         "[asr] lead_seconds), 20 ms chunks; text: final source captions",
            "peer": f"whisper_streaming OnlineASRProcessor (LocalAgreement-2), min chunk "
                    f"{MIN_CHUNK} s, buffer trimming {BUFFER_TRIMMING}, no VAD, beam 5, "
                    "language=manifest; text: committed words + finish() tail",
            "commit_latency": "wall time a word was first committed - its end in the audio",
            "offline": "WhisperModel.transcribe(beam_size=5, language=manifest)",
        },
        "notes": [*NOTES, "The peer gets no language prompt (Interpres and the offline "
                  "decode prompt Chinese for simplified characters)."],
        "clips": clips,
        "totals": totals(clips),
        "runtime_seconds": round(time.perf_counter() - started, 1),
    }
    print_table(data)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
