"""Accuracy of the streaming pipeline against an offline decode with the same model.

    python -m bench.accuracy --manifest PATH.tsv [--model base|tiny.en|DIR]
                             [--room LANGS|all] [--realtime] [--out results.json] [--quick]

The manifest is a TSV with a header and at least the columns `file` (relative to the
manifest's folder), `language` (ISO 639-1) and `reference_transcript`; other columns are
ignored. Every clip goes through the real speaker pipeline at full speed (with
`--realtime` at real-time pace, as a live speaker's audio: a run then lasts as long as the
audio) with automatic language detection (so language ID is measured too), among a room's
languages first, as the built-in room detects among the languages its people speak and
hear: by default the manifest's languages (a meeting of those speakers), `--room en,es,fr`
names them, `--room all` detects among all of Whisper's (the default before 2026-12-05);
its final source captions are the streaming transcript; its finals hear the lead the
server would run with ([asr] lead_seconds in interpres.toml, or INTERPRES_LEAD_SECONDS).
The offline transcript is one beam-5 decode of the whole clip with faster-whisper's
`transcribe()`, the manifest's language forced, on the same model. Both are scored with
bench.metrics (WER, or CER for languages written without spaces). Each language's
difference comes with a 95 % interval from a paired bootstrap over the reference's
sentences (`difference_95` in the JSON; "-" where a reference cannot be split). A
malformed manifest exits with status 2 before any model loads. `--quick` keeps the first
clip of at most two languages (en and es when present): a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from bench.metrics import NOTES, Score, metric, score, sentence_scores, total
from bot.asr.whisper import LANGUAGE_PROMPTS
from bot.asr.whisper import SAMPLE_RATE as RATE
from bot.audio_io import AudioFileError, read_audio
from bot.config import Config
from bot.events import Caption, Speaker
from bot.languages import CHARACTER_SCRIPTS, UnknownLanguage, normalize, parse_list
from bot.models.embedded import ModelUnavailable, resolve_asr_model
from bot.pipeline.engines import Engines
from bot.pipeline.recognizer import RecognizerOptions
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock

REQUIRED_COLUMNS = ("file", "language", "reference_transcript")
QUICK_LANGUAGES = ("en", "es")
CHUNK = 320  # 20 ms at 16 kHz, as the WebRTC room pushes


class ManifestError(ValueError):
    """The manifest cannot be benchmarked; the message names each bad row and why."""


@dataclass(frozen=True)
class Row:
    file: str
    language: str
    reference: str
    audio: np.ndarray = dataclasses.field(repr=False, compare=False)


@dataclass(frozen=True)
class ClipResult:
    row: Row
    detected: tuple[str, ...]
    final_languages: tuple[str, ...]  # each final caption's language, in order
    streaming: str
    offline: str
    streaming_score: Score
    offline_score: Score
    streaming_seconds: float
    offline_seconds: float

    @property
    def language_ok(self) -> bool:
        return self.detected == (self.row.language,)


# -- the manifest ---------------------------------------------------------------------------

def read_manifest(path: Path) -> list[Row]:
    """Every row checked and its audio decoded, or ManifestError listing every problem."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            lines = [(reader.line_num, fields) for fields in reader
                     if any(field.strip() for field in fields)]
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error})") from None
    if not lines:
        raise ManifestError(f"{path}: empty manifest (expected a header and rows)")
    header = [name.strip() for name in lines[0][1]]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ManifestError(f"{path}: header lacks the column(s) {', '.join(missing)} "
                            f"(has: {', '.join(header)})")
    if len(lines) == 1:
        raise ManifestError(f"{path}: no clips below the header")
    rows, problems = [], []
    where = header.index("file")
    for line, fields in lines[1:]:
        try:
            rows.append(_check_row(path.parent, header, fields))
        except ManifestError as error:
            name = fields[where].strip() if where < len(fields) else "?"
            problems.append(f"{path}: line {line} ({name}): {error}")
    if problems:
        raise ManifestError("\n".join(problems))
    return rows


def _check_row(folder: Path, header: list[str], fields: list[str]) -> Row:
    if len(fields) != len(header):
        raise ManifestError(f"{len(fields)} fields, the header has {len(header)}")
    values = dict(zip(header, fields, strict=True))
    try:
        language = normalize(values["language"])
    except UnknownLanguage as error:
        raise ManifestError(str(error)) from None
    reference = values["reference_transcript"].strip()
    if not score(reference, "", language).length:
        raise ManifestError("empty reference_transcript (nothing left to score)")
    path = folder / values["file"].strip()
    if not values["file"].strip() or not path.is_file():
        raise ManifestError(f"audio file not found: {path}")
    try:
        audio = read_audio(path)
    except AudioFileError as error:
        raise ManifestError(f"unreadable audio: {error}") from None
    if not len(audio):
        raise ManifestError(f"no audio samples in {path}")
    return Row(values["file"].strip(), language, reference, audio)


def room_languages(room: str, rows: list[Row]) -> tuple[str, ...]:
    """The languages detection prefers: `room` as listed, none for "all" (any of Whisper's),
    and by default the manifest's own, in order of first appearance. A room always has
    some (its people's), so the bench measures what the product runs by default."""
    if room.strip().lower() == "all":
        return ()
    if room.strip():
        return tuple(parse_list(room))
    return tuple(dict.fromkeys(row.language for row in rows))


def quick_selection(rows: list[Row]) -> list[Row]:
    """The first clip of en and es (or of the first languages present), two at most."""
    firsts: dict[str, Row] = {}
    for row in rows:
        firsts.setdefault(row.language, row)
    chosen = [lang for lang in QUICK_LANGUAGES if lang in firsts]
    chosen += [lang for lang in firsts if lang not in chosen]
    return [firsts[lang] for lang in chosen[:2]]


# -- the two transcripts --------------------------------------------------------------------

async def feed(pipeline: SpeakerPipeline, audio: np.ndarray,
               clock: Callable[[], float] | None = None) -> float:
    """Push `audio` in 20 ms chunks, then end it: as fast as the pipeline takes it, or on
    `clock` at the pace it was spoken (audio second t at clock() == began + t). Returns
    `began`."""
    began = clock() if clock else 0.0
    for start in range(0, len(audio), CHUNK):
        if clock:
            await asyncio.sleep(max(0.0, began + (start + CHUNK) / RATE - clock()))
        await pipeline.push(audio[start:start + CHUNK])
    await pipeline.end()
    return began


async def _stream(engines: Engines, audio: np.ndarray, recognizer: RecognizerOptions,
                  realtime: bool = False) -> list[Caption]:
    """The pipeline's final source captions of `audio`: fed as fast as it takes it, or
    with `realtime` as a live speaker's is (audio second t pushed at wall second t, on a
    wall clock, so interims are as frequent and load shedding as the server's)."""
    options = PipelineOptions(recognizer=recognizer)
    finals: list[Caption] = []
    clock = wall_clock() if realtime else None
    async with SpeakerPipeline(Speaker("b1", "bench"), engines, options, clock=clock,
                               input_chunks=0 if realtime else 4) as pipeline:
        feeder = asyncio.create_task(feed(pipeline, audio, clock))
        async for event in pipeline.events():
            if isinstance(event, Caption) and event.final and event.is_source and event.text:
                finals.append(event)
        await feeder
    return finals


def offline_transcript(model: WhisperModel, audio: np.ndarray, language: str) -> str:
    # The pipeline's language prompt too, so the comparison is about streaming alone.
    segments, _ = model.transcribe(audio, beam_size=5, language=language,
                                   initial_prompt=LANGUAGE_PROMPTS.get(language))
    return " ".join(segment.text.strip() for segment in segments)


def measure(row: Row, engines: Engines, model: WhisperModel, recognizer: RecognizerOptions,
            realtime: bool = False) -> ClipResult:
    started = time.perf_counter()
    finals = asyncio.run(_stream(engines, row.audio, recognizer, realtime))
    streamed_at = time.perf_counter()
    offline = offline_transcript(model, row.audio, row.language)
    joiner = "" if row.language in CHARACTER_SCRIPTS else " "
    streaming = joiner.join(caption.text.strip() for caption in finals)
    return ClipResult(row, tuple(sorted({c.source_lang for c in finals})),
                      tuple(c.source_lang for c in finals), streaming, offline,
                      score(row.reference, streaming, row.language),
                      score(row.reference, offline, row.language),
                      streamed_at - started, time.perf_counter() - streamed_at)


# -- the report -----------------------------------------------------------------------------

def _rates(streaming: Score, offline: Score) -> dict:
    return {"reference_units": streaming.length,
            "streaming": {"errors": streaming.errors, "rate": round(streaming.rate, 4)},
            "offline": {"errors": offline.errors, "rate": round(offline.rate, 4)},
            "difference": round(streaming.rate - offline.rate, 4)}


def _clip_json(result: ClipResult) -> dict:
    row = result.row
    return {"file": row.file, "language": row.language, "detected": list(result.detected),
            "final_languages": list(result.final_languages),
            "language_id_correct": result.language_ok, "metric": metric(row.language),
            "reference": row.reference, "streaming_text": result.streaming,
            "offline_text": result.offline,
            **_rates(result.streaming_score, result.offline_score),
            "audio_seconds": round(len(row.audio) / RATE, 2),
            "streaming_seconds": round(result.streaming_seconds, 2),
            "offline_seconds": round(result.offline_seconds, 2)}


def difference_interval(results: list[ClipResult], resamples: int = 2000
                        ) -> tuple[float, float] | None:
    """A 95 % interval for streaming minus offline error rate, from a paired bootstrap over
    reference sentences: on a few minutes of speech one sentence read another way moves a
    language's rate by points, and the interval says how far the difference can be trusted.
    None when some reference cannot be split into sentences exactly."""
    rows = []
    for r in results:
        streaming = sentence_scores(r.row.reference, r.streaming, r.row.language)
        offline = sentence_scores(r.row.reference, r.offline, r.row.language)
        if streaming is None or offline is None:
            return None
        rows += [(s.errors, o.errors, s.length) for s, o in zip(streaming, offline, strict=True)]
    if len(rows) < 2:
        return None
    table = np.array(rows, dtype=np.float64)
    picks = np.random.default_rng(0).integers(0, len(rows), (resamples, len(rows)))
    length = np.maximum(table[picks, 2].sum(axis=1), 1)
    difference = (table[picks, 0].sum(axis=1) - table[picks, 1].sum(axis=1)) / length
    low, high = np.percentile(difference, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def _group(results: list[ClipResult],
           key: Callable[[ClipResult], str]) -> dict[str, dict]:
    groups: dict[str, list[ClipResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {name: {"clips": len(items),
                   "language_id_correct": sum(r.language_ok for r in items),
                   **_rates(total(r.streaming_score for r in items),
                            total(r.offline_score for r in items)),
                   "difference_95": difference_interval(items)}
            for name, items in groups.items()}


def report(results: list[ClipResult], manifest: Path, config: Config, model_dir: Path,
           quick: bool, seconds: float, room: tuple[str, ...] = (),
           realtime: bool = False) -> dict:
    correct = sum(r.language_ok for r in results)
    finals = sum(len(r.final_languages) for r in results)
    finals_right = sum(lang == r.row.language for r in results for lang in r.final_languages)
    return {
        "manifest": str(manifest), "quick": quick,
        "model": {"asr": config.asr_model, "directory": str(model_dir),
                  "interim": config.asr_interim_model or config.asr_model,
                  "device": config.asr_device, "compute_type": config.asr_compute_type,
                  "lead_seconds": config.asr_lead_seconds},
        "method": {"streaming": "final source captions of SpeakerPipeline, "
                                + ("real-time pace (wall clock, live load shedding)"
                                   if realtime else "full speed")
                                + ", automatic language detection",
                   "pace": "realtime" if realtime else "full speed",
                   "offline": "WhisperModel.transcribe(beam_size=5, language=manifest)",
                   "normaliser": "whisper_normalizer: English for en, Basic otherwise",
                   "languages_by_characters": sorted(CHARACTER_SCRIPTS)},
        "notes": list(NOTES),
        "clips": [_clip_json(r) for r in results],
        "languages": _group(results, lambda r: r.row.language),
        "language_id": {"correct": correct, "clips": len(results),
                        "accuracy": round(correct / len(results), 4),
                        "utterances": finals, "utterances_correct": finals_right},
        "room": list(room),
        "totals": _group(results, lambda r: metric(r.row.language)),
        "runtime_seconds": round(seconds, 1),
    }


def print_tables(data: dict) -> None:
    print(f"{'file':38} {'lang':>4} {'det':>6} {'metric':>6} {'stream':>7} {'offline':>7} "
          f"{'diff':>7}")
    for clip in data["clips"]:
        print(f"{clip['file'][:38]:38} {clip['language']:>4} "
              f"{','.join(clip['detected']) or '-':>6} {clip['metric']:>6}"
              + _rate_columns(clip))
    print(f"\n{'language':10} {'clips':>5} {'lang-id':>7} {'units':>6} {'stream':>7} "
          f"{'offline':>7} {'diff':>7}  95 % interval of diff (sentences resampled)")
    for name, group in [*data["languages"].items(), *data["totals"].items()]:
        label = f"total {name}" if name in data["totals"] else name
        interval = group.get("difference_95")
        print(f"{label:10} {group['clips']:5} {group['language_id_correct']:>3}/"
              f"{group['clips']:<3} {group['reference_units']:6}" + _rate_columns(group)
              + (f"  [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]p" if interval
                 else "  -"))
    ident = data["language_id"]
    print(f"\nlanguage ID: {ident['correct']}/{ident['clips']} clips ({ident['accuracy']:.0%}), "
          f"{ident['utterances_correct']}/{ident['utterances']} final captions"
          + f" (room: {','.join(data['room']) or 'all'})  "
          f"model: {data['model']['asr']}  pace: {data['method']['pace']}  "
          f"runtime: {data['runtime_seconds']} s")
    for note in data["notes"]:
        print(f"note: {note}")


def _rate_columns(item: dict) -> str:
    return (f" {item['streaming']['rate']:7.1%} {item['offline']['rate']:7.1%} "
            f"{100 * item['difference']:+6.1f}p")


# -- the command ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--model", help="base, tiny.en or a CTranslate2 Whisper directory "
                        "(default: INTERPRES_ASR_MODEL, else base)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--quick", action="store_true",
                        help="first clip of at most two languages (en, es): a smoke test")
    parser.add_argument("--room", default="", metavar="LANGS",
                        help="detect among these languages first, as the built-in room does "
                        "for the languages its people speak and hear (e.g. en,es,fr,de,zh); "
                        "'all': all of Whisper's; default: the manifest's languages")
    parser.add_argument("--realtime", action="store_true",
                        help="feed each clip at real-time pace, as a live speaker (takes as "
                        "long as the audio); default: as fast as the pipeline takes it")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = Config.from_env()
    config = dataclasses.replace(config, asr_model=args.model or config.asr_model)
    try:
        rows = read_manifest(args.manifest)
        room = room_languages(args.room, rows)
        model_dir = resolve_asr_model(config.asr_model)
    except (ManifestError, ModelUnavailable, UnknownLanguage) as error:
        print(f"bench.accuracy: {error}", file=sys.stderr)
        return 2
    if args.quick:
        rows = quick_selection(rows)
    # language=None: detect it; among a room's languages (a preference) when given; with the
    # lead the server would run with ([asr] lead_seconds, INTERPRES_LEAD_SECONDS).
    recognizer = RecognizerOptions(allowed=room, allowed_strict=False,
                                   lead_seconds=config.asr_lead_seconds)
    print(f"loading Whisper {config.asr_model} (finals hear {config.asr_lead_seconds:g} s "
          "of lead)…", file=sys.stderr)
    if args.realtime:
        seconds = sum(len(row.audio) for row in rows) / RATE
        print(f"at real-time pace: {seconds / 60:.1f} minutes of audio, as long to run",
              file=sys.stderr)
    engines = Engines.load(config, speech=False)
    try:
        model = WhisperModel(str(model_dir), device=config.asr_device,
                             compute_type=config.asr_compute_type)
        results = []
        for row in rows:
            print(f"  {row.file}", file=sys.stderr)
            results.append(measure(row, engines, model, recognizer, args.realtime))
    finally:
        engines.close()
    data = report(results, args.manifest, config, model_dir, args.quick,
                  time.perf_counter() - started, room, args.realtime)
    print_tables(data)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
