"""`interpres translate`: the streaming pipeline over an audio file, writing captions and voices.

The file is fed through exactly the pipeline a live speaker gets, in 100 ms chunks, either
at real-time pace (latencies are then what a listener would see) or as fast as the machine
allows (captions are the same as on an infinitely fast machine).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.audio_io import iter_audio, probe_duration, write_wav
from bot.events import Activity, Caption, Event, Notice, Speaker, SpeechAudio
from bot.pipeline.engines import Engines
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock
from bot.subtitles import to_srt, to_webvtt
from bot.timeline import render_timeline

CHUNK_SECONDS = 0.1


@dataclass
class FileJob:
    input: Path
    out_dir: Path
    options: PipelineOptions
    realtime: bool = False
    live_display: bool = True


@dataclass
class Collected:
    events: list[Event] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    speech: list[SpeechAudio] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class Display:
    """What the terminal shows: final captions scroll; on a terminal, one status line at the
    bottom holds the progress bar and the growing interim caption (committed words plain,
    the unstable tail dimmed). Elsewhere (a pipe, a log) interims are plain lines."""

    def __init__(self, duration: float, stream: TextIO = sys.stderr, live: bool = True) -> None:
        self.duration = max(duration, 0.001)
        self.stream = stream
        self.tty = stream.isatty()
        self.live = live
        self._seconds = 0.0
        self._interim = ""
        self._drawn_at = -1.0

    def progress(self, seconds: float) -> None:
        self._seconds = seconds
        if self.tty and seconds - self._drawn_at >= 0.25:
            self._draw()

    def _draw(self) -> None:
        self._drawn_at = self._seconds
        share = min(1.0, self._seconds / self.duration)
        bar = "#" * int(share * 20)
        line = f"[{bar:<20}] {self._seconds:5.1f}/{self.duration:.1f}s"
        if self._interim:
            line += "  " + self._interim
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def caption(self, caption: Caption) -> None:
        if not self.live:
            return
        stamp = f"{int(caption.t0 // 60):02d}:{caption.t0 % 60:04.1f}"
        if caption.final:
            if caption.is_source:
                self._interim = ""
            if caption.text:
                self._line(f"{stamp} {caption.lang} ✓ {caption.text}")
        elif caption.is_source:
            if self.tty:
                tail = caption.text[len(caption.committed):]
                self._interim = (f"{caption.lang} … {caption.committed}"
                                 f"\x1b[2m{tail}\x1b[0m")[-160:]
                self._draw()
            else:
                self._line(f"{stamp} {caption.lang} … {caption.text}")

    def notice(self, notice: Notice) -> None:
        self._line(f"{notice.level}: {notice.text}")

    def _line(self, text: str) -> None:
        prefix = "\r\x1b[2K" if self.tty else ""
        self.stream.write(prefix + text + "\n")
        if self.tty:
            self._draw()
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


async def run_file(job: FileJob, engines: Engines) -> Collected:
    duration = probe_duration(job.input)
    chunks = iter_audio(job.input, CHUNK_SECONDS)  # raises AudioFileError before we start
    display = Display(duration, live=job.live_display)
    clock = wall_clock() if job.realtime else None
    speaker = Speaker(id="s1", name=job.input.stem)
    collected = Collected()
    job.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(job.out_dir / "captions.jsonl", "w", encoding="utf-8") as jsonl:
        async with SpeakerPipeline(speaker, engines, job.options, clock=clock,
                                   input_chunks=0 if job.realtime else 2) as pipeline:

            async def feed() -> None:
                fed = 0.0
                pace_start = time.monotonic()
                for chunk in chunks:
                    await pipeline.push(chunk)
                    fed += len(chunk) / 16000
                    display.progress(fed)
                    if job.realtime:
                        await asyncio.sleep(max(0.0, pace_start + fed - time.monotonic()))
                await pipeline.end()

            feeder = asyncio.create_task(feed())
            async for event in pipeline.events():
                if isinstance(event, Activity):
                    continue
                collected.events.append(event)
                jsonl.write(json.dumps(event_record(event), ensure_ascii=False) + "\n")
                if isinstance(event, Caption):
                    collected.captions.append(event)
                    display.caption(event)
                elif isinstance(event, SpeechAudio):
                    collected.speech.append(event)
                elif isinstance(event, Notice):
                    collected.notices.append(event)
                    display.notice(event)
            await feeder
            elapsed = time.perf_counter() - started
            display.done()
            write_outputs(job, duration, collected, pipeline, engines, elapsed)
    return collected


def event_record(event: Event) -> dict:
    if isinstance(event, Caption | Notice):
        record = event.to_wire()
        record["emitted_at"] = round(event.emitted_at or 0.0, 3)
        return record
    assert isinstance(event, SpeechAudio)
    return {"type": "speech", "v": 1, "segment": event.segment, "lang": event.lang,
            "voice": event.voice, "speed": round(event.speed, 2),
            "t0": round(event.t0, 2), "duration": round(event.duration, 3),
            "emitted_at": round(event.emitted_at or 0.0, 3),
            "play_at": round(event.play_at or 0.0, 3)}


def write_outputs(job: FileJob, duration: float, collected: Collected,
                  pipeline: SpeakerPipeline, engines: Engines, elapsed: float) -> None:
    out = job.out_dir
    # Languages of final captions (not of interims decoded before the language settled).
    languages = sorted({c.lang for c in collected.captions if c.final and c.text}
                       | set(job.options.interpreter.targets))
    for lang in languages:
        (out / f"{lang}.vtt").write_text(to_webvtt(collected.captions, lang), encoding="utf-8")
        (out / f"{lang}.srt").write_text(to_srt(collected.captions, lang), encoding="utf-8")
    if job.options.interpreter.speech:
        for lang in job.options.interpreter.targets:
            clips = [(s.play_at or 0.0, s.samples) for s in collected.speech if s.lang == lang]
            write_wav(out / f"{lang}.wav", render_timeline(clips, duration), 48000)
    summary = build_summary(job, duration, collected, pipeline, engines, elapsed)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")


def _stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "median": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"count": len(values), "median": round(statistics.median(ordered), 3),
            "p95": round(p95, 3), "max": round(ordered[-1], 3)}


def latency_figures(collected: Collected, pre_roll: float) -> dict[str, dict]:
    by_segment: dict[str, list[Caption]] = {}
    for caption in collected.captions:
        by_segment.setdefault(caption.segment, []).append(caption)
    first_audio: dict[str, float] = {}
    for speech in collected.speech:
        if speech.play_at is not None:
            first_audio.setdefault(speech.segment, speech.play_at)
    onset_interim, end_source, end_translated, end_audio = [], [], [], []
    for captions in by_segment.values():
        source = [c for c in captions if c.is_source]
        finals = [c for c in source if c.final and c.text]
        if not finals:
            continue
        final = finals[0]
        onset = final.t0 + pre_roll
        speech_end = final.words[-1].end if final.words else final.t1
        interims = [c for c in source if not c.final]
        if interims:
            onset_interim.append(interims[0].emitted_at - onset)
        end_source.append(final.emitted_at - speech_end)
        translated = [c.emitted_at for c in captions if c.final and not c.is_source and c.text]
        if translated:
            end_translated.append(max(translated) - speech_end)
        if final.segment in first_audio:
            end_audio.append(first_audio[final.segment] - speech_end)
    return {
        "speech_onset_to_first_interim_s": _stats(onset_interim),
        "utterance_end_to_final_source_caption_s": _stats(end_source),
        "utterance_end_to_final_translated_caption_s": _stats(end_translated),
        "utterance_end_to_first_synthesized_audio_s": _stats(end_audio),
    }


def build_summary(job: FileJob, duration: float, collected: Collected,
                  pipeline: SpeakerPipeline, engines: Engines, elapsed: float) -> dict:
    times = pipeline.times
    engines_used = sorted({c.engine for c in collected.captions})
    voices_used = sorted({s.voice for s in collected.speech})
    finals = [c for c in collected.captions if c.final and c.text]
    tracks = pipeline.interpreter.tracks
    return {
        "input": str(job.input),
        "duration_s": round(duration, 3),
        "mode": "realtime" if job.realtime else "fast",
        "wall_time_s": round(elapsed, 3),
        "asr_model": engines.asr.name,
        "engines": engines_used,
        "voices": voices_used,
        "languages": {
            "source": sorted({c.source_lang for c in finals}),
            "targets": list(job.options.interpreter.targets),
        },
        "segments": len({c.segment for c in finals if c.is_source}),
        "real_time_factor": {
            stage: round(seconds / max(duration, 1e-9), 4)
            for stage, seconds in sorted(times.seconds.items())
        } | {"total_wall": round(elapsed / max(duration, 1e-9), 4)},
        "stage_calls": dict(sorted(times.counts.items())),
        "latency": latency_figures(collected, job.options.recognizer.segmenter.pre_roll),
        "shed": {
            "skipped_interim_decodes": times.skipped_interims,
            "dropped_input_s": round(pipeline.dropped_input_seconds, 3),
            "dropped_speech_clips": sum(t.dropped for t in tracks.values()),
            "dropped_speech_s": round(sum(t.dropped_seconds for t in tracks.values()), 3),
        },
        "notices": [n.to_wire() for n in collected.notices],
    }
