"""What a listener experiences: per-utterance latencies at real WebRTC listeners of a room.

    python -m bench.latency [--passes 3] [--languages en,fr] [--clip es_leopard_test.wav ...]
                            [--quick] [--monologue-minutes 0] [--out bench/results/latency.json]

Starts `interpres serve` as a subprocess (ICE on loopback) and real aiortc clients in this
process: one listener per language, each also asking for the source captions, and one
speaker (speak "auto") per clip, taking turns 2 s apart at real-time pace: by default five
people speaking English, Spanish, German, French and Chinese. (One speaker switching language
at every utterance is not a case the language tracker follows, by design.) One warm-up pass
is not counted. Per utterance and listener: speech onset -> first caption in the
listener's language and first source interim; utterance end (last word's end) -> final
source caption, final caption in the listener's language, first interpretation audio with
speech energy; committed-word lag (word end -> first received as committed); caption
erasures (characters shown then retracted, per minute of speech). Every time is taken on
this process's clock: the speaker's timeline is mapped through the send time of each
microphone frame. Writes JSON and a PNG plot of the distributions next to it.

With --monologue-minutes M one speaker plays the clips (by default the three English ones)
over and over, 1-2 s apart, for M minutes, and the utterance end -> interpretation audio
lag is followed over time (the "no drift" check).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.room import free_port, start_server
from bot.audio_io import read_audio
from bot.client import ClipTrack, Received
from bot.client import RoomClient as Client
from bot.languages import CHARACTER_SCRIPTS
from bot.rtc.ice import restrict_host_addresses
from bot.tts.resample import to_int16_48k

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "audio"
DEFAULT_CLIPS = ("en_whisper_jfk.wav", "es_leopard_test.wav", "de_cheetah_v21_test.wav",
                 "fr_cheetah_v21_test.wav", "zh_wenet_aishell_BAC009S0724W0121.wav")
MONOLOGUE_CLIPS = ("en_whisper_jfk.wav", "en_leopard_test.wav", "en_ljspeech_LJ001-0001.wav")
QUICK_CLIP = "es_leopard_test.wav"
RATE = 48000
FRAME_S = 0.02
LEAD_S = 1.0
GAP_S = 2.0
SPEECH_RMS = 0.01  # interpretation frames louder than this are speech (as bench.room)
QUIET_BEFORE_ONSET_S = 0.35  # an interpretation onset follows this much quiet
SYNTHESIS_S = 1.5  # a final caption this long before the quiet may still be in synthesis
MEASURES = {  # key -> label, in the order of the table and the plot
    "onset_to_first_caption": "speech onset → first caption (listener's language)",
    "onset_to_first_source_interim": "speech onset → first source interim",
    "end_to_final_source": "utterance end → final source caption",
    "end_to_final_translated": "utterance end → final caption (listener's language)",
    "end_to_audio": "utterance end → interpretation audio",
    "committed_word_lag": "word end → received as committed",
}


@dataclass
class Program:
    """The speaker's microphone signal: 48 kHz int16, with where each clip lies in it."""

    samples: np.ndarray
    spans: list[tuple[float, float, str]]  # (start s, end s, clip file)

    @property
    def speech_seconds(self) -> float:
        return sum(end - start for start, end, _ in self.spans)


class TimedClipTrack(ClipTrack):
    """A microphone that remembers when it sent each 20 ms frame: frame k carries the
    speaker's timeline [k * 20 ms, (k + 1) * 20 ms), whatever the pacing did."""

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__(samples, delay=0.0)
        self.sent: list[float] = []

    def next_samples(self) -> np.ndarray | None:
        self.sent.append(time.monotonic())
        return super().next_samples()

    def wall(self, t: float) -> float:
        """This process's clock when the speaker's timeline was at `t` seconds."""
        k = min(max(0, int(t / FRAME_S)), len(self.sent) - 1)
        return self.sent[k] + (t - k * FRAME_S)


@dataclass
class Session:
    """A room after the fact: each speaker's program and microphone (by participant id),
    and the listeners with everything they received."""

    speakers: dict[str, tuple[Program, TimedClipTrack]]
    listeners: list[Client] = field(default_factory=list)

    @property
    def speech_seconds(self) -> float:
        return sum(program.speech_seconds for program, _ in self.speakers.values())


def load_clips(names: list[str]) -> list[tuple[str, np.ndarray]]:
    return [(Path(n).name, to_int16_48k(read_audio(AUDIO / n if not Path(n).exists() else n),
                                        16000)) for n in names]


def build_program(clips: list[tuple[str, np.ndarray]], gaps: list[float],
                  lead: float = LEAD_S) -> Program:
    parts, spans, at = [np.zeros(int(lead * RATE), np.int16)], [], lead
    for (name, samples), gap in zip(clips, gaps, strict=True):
        parts += [samples, np.zeros(int(gap * RATE), np.int16)]
        spans.append((at, at + len(samples) / RATE, name))
        at += (len(samples) + int(gap * RATE)) / RATE
    return Program(np.concatenate(parts), spans)


def monologue(clips: list[tuple[str, np.ndarray]], minutes: float, seed: int = 7) -> Program:
    rng = random.Random(seed)
    chosen: list[tuple[str, np.ndarray]] = []
    gaps: list[float] = []
    total = 0.0
    while total < minutes * 60:
        name, samples = clips[len(chosen) % len(clips)]
        chosen.append((name, samples))
        gaps.append(round(rng.uniform(1.0, 2.0), 2))
        total += len(samples) / RATE + gaps[-1]
    return build_program(chosen, gaps)


def turns(clips: list[tuple[str, np.ndarray]], gap: float = GAP_S) -> list[Program]:
    """One speaker per clip, taking turns `gap` seconds apart: each speaker's program is
    silence until its turn, then its clip."""
    programs, lead = [], LEAD_S
    for clip in clips:
        programs.append(build_program([clip], [gap], lead))
        lead += len(clip[1]) / RATE + gap
    return programs


# -- running a session ------------------------------------------------------------------


async def wait_open(client: Client, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while client.channel.readyState != "open":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{client.name}: data channel did not open")
        await asyncio.sleep(0.05)


def last_activity(listeners: list[Client]) -> float:
    times = [0.0]
    for client in listeners:
        if client.messages:
            times.append(client.messages[-1][0])
        times += [r.at for r in client.interpretation[-100:] if r.rms > SPEECH_RMS]
    return max(times)


async def run_session(url: str, room: str, programs: list[Program],
                      languages: list[str]) -> Session:
    """Listeners join and ask for source captions too; then the speakers (speak "auto") join
    and play their programs; returns once every program has played and the room has been
    quiet (no caption, no interpretation speech) for 3 s."""
    listeners = [Client(url, room, f"Listener-{lang}", lang, lang,
                        mic=ClipTrack()) for lang in languages]
    for client in listeners:
        await client.join()
    for client in listeners:
        await wait_open(client)
        client.send({"type": "listen", "lang": client.listen, "source": True})
    speakers: list[Client] = []
    for i, program in enumerate(programs):
        track = TimedClipTrack(program.samples)
        speakers.append(Client(url, room, f"Speaker{i + 1}", "auto", languages[0], mic=track))
        await speakers[-1].join()
    for speaker, program in zip(speakers, programs, strict=True):
        track = speaker.mic
        while not track.sent or time.monotonic() - track.sent[0] < len(program.samples) / RATE:
            await asyncio.sleep(0.25)
    ended = time.monotonic()
    while time.monotonic() - ended < 30 and (time.monotonic() - last_activity(listeners) < 3
                                             or time.monotonic() - ended < 2):
        await asyncio.sleep(0.25)
    for client in [*speakers, *listeners]:
        await client.close()
    return Session({s.participant: (p, s.mic) for s, p in zip(speakers, programs, strict=True)},
                   listeners)


# -- analysis -----------------------------------------------------------------------------


def speech_onset(program: Program, t0: float, t1: float) -> float:
    """Where the sent signal first carries speech energy in [t0, t1] (seconds)."""
    a, b = int(t0 * RATE) // 960 * 960, int(t1 * RATE)
    frames = program.samples[a:a + (b - a) // 960 * 960].astype(np.float32) / 32768
    if len(frames) == 0:
        return t0
    rms = np.sqrt((frames.reshape(-1, 960) ** 2).mean(axis=1))
    loud = (rms > 0.1 * np.percentile(rms, 90)).astype(int)
    # 60 ms of sustained energy, so that a click or a breath is not the onset
    sustained = np.nonzero(np.convolve(loud, np.ones(3, int), "valid") == 3)[0]
    return a / RATE + (sustained[0] if len(sustained) else 0) * FRAME_S


def audio_onsets(received: list[Received]) -> list[tuple[float, float]]:
    """(start of the quiet before, onset) of each stretch of interpretation speech that
    follows at least QUIET_BEFORE_ONSET_S of quiet (or no frames at all: the server stops
    sending when it has nothing to say)."""
    onsets, last_loud = [], -math.inf
    for r in received:
        if r.rms > SPEECH_RMS:
            if r.at - last_loud >= QUIET_BEFORE_ONSET_S:
                onsets.append((last_loud, r.at))
            last_loud = r.at
    return onsets


def committed_lags(source: list[tuple[float, dict]], final: dict,
                   wall) -> list[float]:
    """Each final word's end -> arrival of the first revision whose committed text covers it."""
    chars = final["source_lang"] in CHARACTER_SCRIPTS
    words = final.get("words") or []

    def units(text: str) -> int:
        return len(text.replace(" ", "")) if chars else len(text.split())

    cumulative = list(np.cumsum([max(1, units(w["text"])) for w in words]))
    lags, index = [], 0
    for at, message in source:
        covered = units(message["committed"])
        while index < len(words) and cumulative[index] <= covered:
            lags.append(at - wall(words[index]["end"]))
            index += 1
    return lags


def erased_characters(texts: list[str]) -> tuple[int, int]:
    """(characters retracted, characters of the final text) over consecutive revisions."""
    erased = 0
    for before, after in zip(texts, texts[1:], strict=False):
        common = os.path.commonprefix([before, after])
        erased += len(before) - len(common)
    return erased, len(texts[-1]) if texts else 0


def listener_records(session: Session, client: Client) -> list[dict]:
    captions = [(at, m) for at, m in client.messages if m.get("type") == "caption"]
    by_segment: dict[str, list[tuple[float, dict]]] = {}
    for at, m in captions:
        by_segment.setdefault(m["segment"], []).append((at, m))
    records = []
    for segment, items in by_segment.items():
        source = [(at, m) for at, m in items if m["lang"] == m["source_lang"]]
        final = next((m for _, m in source if m["final"] and m["text"]), None)
        if final is None or final["speaker"]["id"] not in session.speakers:
            continue
        program, track = session.speakers[final["speaker"]["id"]]
        wall = track.wall
        words = final.get("words") or []
        end_t = words[-1]["end"] if words else final["t1"]
        end, onset = wall(end_t), wall(speech_onset(program, final["t0"], final["t1"]))
        own = [(at, m) for at, m in items if m["lang"] == client.listen]
        interim = next((at for at, m in source if not m["final"]), None)
        final_source_at = next(at for at, m in source if m is final)
        final_own_at = next((at for at, m in own if m["final"] and m["text"]), None)
        clip = max(program.spans, key=lambda span: min(span[1], final["t1"])
                   - max(span[0], final["t0"]))[2]
        records.append({
            "listener": client.listen, "segment": segment, "source_lang": final["source_lang"],
            "clip": Path(clip).name,
            "t_end": round(end_t, 2), "final_own_at": final_own_at, "end_at": end,
            "onset_to_first_caption": own[0][0] - onset if own else None,
            "onset_to_first_source_interim": interim - onset if interim else None,
            "end_to_final_source": final_source_at - end,
            "end_to_final_translated": final_own_at - end if final_own_at else None,
            "end_to_audio": None,
            "committed_word_lag": committed_lags(source, final, wall),
        })
    match_audio(records, audio_onsets(client.interpretation), client.listen)
    return records


def match_audio(records: list[dict], onsets: list[tuple[float, float]], listen: str) -> None:
    """An onset after quiet starts the clip of an utterance whose final caption arrived during
    that quiet (or up to SYNTHESIS_S before it, while its speech was being synthesized); the
    earliest such utterance takes it. Clips queued straight behind another one, or dropped
    by the server (over 6 s behind), get no onset: the JSON counts them."""
    pending = sorted((r for r in records if r["source_lang"] != listen and r["final_own_at"]),
                     key=lambda r: r["final_own_at"])
    for quiet_from, onset in onsets:
        record = next((r for r in pending if quiet_from - SYNTHESIS_S <= r["final_own_at"]
                       <= onset + 0.05), None)
        if record is not None:
            record["end_to_audio"] = onset - record["end_at"]
            pending = [r for r in pending if r["final_own_at"] > record["final_own_at"]]


def erasures(session: Session) -> dict[str, dict[str, float]]:
    minutes = session.speech_seconds / 60
    out: dict[str, dict[str, float]] = {}
    for index, client in enumerate(session.listeners):
        groups: dict[tuple[str, str, str], list[str]] = {}
        for _, m in client.messages:
            if m.get("type") != "caption":
                continue
            if m["lang"] == client.listen:
                groups.setdefault((client.listen, m["segment"], m["lang"]), []).append(m["text"])
            if index == 0 and m["lang"] == m["source_lang"]:
                groups.setdefault(("source", m["segment"], m["lang"]), []).append(m["text"])
        for (kind, _, _), texts in groups.items():
            erased, shown = erased_characters(texts)
            entry = out.setdefault(kind, {"erased_chars": 0, "final_chars": 0, "minutes": 0.0})
            entry["erased_chars"] += erased
            entry["final_chars"] += shown
            entry["minutes"] = minutes
    return out


# -- summaries ----------------------------------------------------------------------------


def nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p90": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {"n": len(values), "median": round(statistics.median(ordered), 3),
            "p90": round(nearest_rank(ordered, 0.9), 3),
            "p95": round(nearest_rank(ordered, 0.95), 3), "max": round(ordered[-1], 3)}


def values(records: list[dict], key: str) -> list[float]:
    if key == "committed_word_lag":
        return [v for r in records for v in r[key]]
    return [r[key] for r in records if r[key] is not None]


def merge_erasures(parts: list[dict]) -> dict[str, dict[str, float]]:
    total: dict[str, dict[str, float]] = {}
    for part in parts:
        for kind, entry in part.items():
            into = total.setdefault(kind, {"erased_chars": 0, "final_chars": 0, "minutes": 0.0})
            for key in into:
                into[key] += entry[key]
    for entry in total.values():
        entry["minutes"] = round(entry["minutes"], 3)
        entry["erased_per_minute"] = round(entry["erased_chars"] / entry["minutes"], 1) \
            if entry["minutes"] else None
    return total


def drift(records: list[dict], minutes: float) -> dict:
    """Utterance end -> interpretation audio over the monologue: fit and first/last minute."""
    points = sorted((r["t_end"], r["end_to_audio"], r["listener"]) for r in records
                    if r["end_to_audio"] is not None)
    if len(points) < 3:
        return {"n": len(points)}
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    span = minutes * 60
    first = [p[1] for p in points if p[0] <= LEAD_S + 60]
    last = [p[1] for p in points if p[0] >= x.max() - 60]
    return {"n": len(points), "slope_s_per_minute": round(float(slope) * 60, 4),
            "intercept_s": round(float(intercept), 3),
            "growth_over_monologue_s": round(float(slope) * span, 3),
            "growth_per_10_minutes_s": round(float(slope) * 600, 3),
            "first_minute_median_s": round(statistics.median(first), 3) if first else None,
            "last_minute_median_s": round(statistics.median(last), 3) if last else None,
            "points": [[round(p[0], 2), round(p[1], 3), p[2]] for p in points]}


# -- plot ---------------------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": platform.python_version()}


def plot(report: dict, records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(label, values(records, key)) for key, label in MEASURES.items()]
    series = [(label, v) for label, v in series if v]
    drift_report = report.get("monologue")
    columns = 2 if drift_report else 1
    fig, axes = plt.subplots(1, columns, figsize=(8 * columns + 4, 6.5), squeeze=False)
    box = axes[0][0]
    box.boxplot([v for _, v in series], orientation="horizontal", whis=(5, 95),
                showfliers=False, widths=0.55)
    rng = np.random.default_rng(0)
    for i, (_, v) in enumerate(series, start=1):
        box.scatter(v, i + rng.uniform(-0.18, 0.18, len(v)), s=9, alpha=0.45, color="tab:blue")
    box.set_yticks(range(1, len(series) + 1),
                   [f"{label}\n(n={len(v)}, median {statistics.median(v):.2f} s)"
                    for label, v in series], fontsize=8)
    box.invert_yaxis()
    box.set_xlabel("latency at the listener (seconds); box: quartiles, whiskers: p5–p95")
    box.set_xlim(left=0)
    box.grid(axis="x", alpha=0.3)
    if drift_report and drift_report.get("n", 0) >= 3:
        ax = axes[0][1]
        points = drift_report["points"]
        for lang in sorted({p[2] for p in points}):
            mine = [p for p in points if p[2] == lang]
            ax.scatter([p[0] / 60 for p in mine], [p[1] for p in mine], s=14, label=lang)
        xs = np.array([points[0][0], points[-1][0]])
        ax.plot(xs / 60, drift_report["intercept_s"] + drift_report["slope_s_per_minute"] *
                xs / 60, color="black", label=f"fit: {drift_report['slope_s_per_minute']:+.3f}"
                " s/min")
        ax.set_xlabel("utterance end on the speaker's timeline (minutes)")
        ax.set_ylabel("utterance end → interpretation audio (seconds)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title="listener")
    m = report["machine"]
    fig.suptitle(f"Interpres: what a listener experiences ({report['mode']}, "
                 f"{report['utterances']} utterances, listeners {', '.join(report['listeners'])})"
                 f"\n{m['cpu']}, {m['cpus']} CPUs · {report['date']}",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main ---------------------------------------------------------------------------------


def clip_languages() -> dict[str, str]:
    with open(AUDIO / "manifest.tsv", encoding="utf-8") as handle:
        return {row["file"]: row["language"] for row in csv.DictReader(handle, delimiter="\t")}


async def run(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    clips = load_clips(args.clip)
    if args.monologue_minutes > 0:
        sessions = [[monologue(clips, args.monologue_minutes)]]
        warmup = None if args.quick else turns(load_clips([QUICK_CLIP]))
    else:
        sessions = [turns(clips)] * args.passes
        warmup = None if args.quick else sessions[0]
    restrict_host_addresses(["127.0.0.1"])
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    records: list[dict] = []
    erasure_parts: list[dict] = []
    try:
        if warmup is not None:
            print("warm-up pass (not counted)…", file=sys.stderr)
            await run_session(url, "warmup", warmup, args.languages)
        for i, programs in enumerate(sessions):
            speech = sum(p.speech_seconds for p in programs)
            print(f"pass {i + 1}/{len(sessions)}: {len(programs)} speaker(s), {speech:.0f} s of "
                  "speech…", file=sys.stderr)
            session = await run_session(url, f"latency{i}", programs, args.languages)
            for client in session.listeners:
                records += [dict(r, run=i) for r in listener_records(session, client)]
            erasure_parts.append(erasures(session))
        gaps = await asyncio.to_thread(metric_value, url, "interpres_audio_gap_seconds_total")
        # Speakers here send packets all along: gaps are only the seconds before each one's
        # first packet. Much more would mean the wall-clock endpointing cut live speech.
        print(f"audio handed over as gaps (no packets): {gaps:.1f} s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return records, erasure_parts


def metric_value(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return float("nan")


def build_report(args: argparse.Namespace, records: list[dict], erasure_parts: list[dict],
                 runtime: float) -> dict:
    languages = clip_languages()
    translated = [r for r in records if r["source_lang"] != r["listener"]]
    report = {
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": (f"monologue {args.monologue_minutes:g} min" if args.monologue_minutes > 0
                 else f"{args.passes} pass{'es' if args.passes != 1 else ''}"
                 + (", quick" if args.quick else ", after 1 warm-up pass")),
        "clips": [{"file": Path(c).name, "language": languages.get(Path(c).name)}
                  for c in args.clip],
        "listeners": args.languages,
        "utterances": len({(r["run"], r["segment"]) for r in records}),
        "latency_s": {key: summary(values(records, key)) for key in MEASURES},
        "by_listener": {lang: {key: summary(values([r for r in records if r["listener"] == lang],
                                                   key)) for key in MEASURES}
                        for lang in args.languages},
        # Where the lag comes from: speakers who say their language vs detected ones differ.
        "committed_word_lag_by_source_language": {
            lang: summary(values([r for r in records if r["source_lang"] == lang],
                                 "committed_word_lag"))
            for lang in sorted({r["source_lang"] for r in records})},
        "erasures": merge_erasures(erasure_parts),
        # Each utterance's detected language against its clip's (speakers say "auto").
        "language_id": language_id(records, languages),
        "interpretation_audio_matched": {"translated_utterances": len(translated),
                                         "with_audio": sum(r["end_to_audio"] is not None
                                                           for r in translated)},
        "runtime_s": round(runtime, 1),
        "records": [{k: (round(v, 3) if isinstance(v, float)
                         else [round(x, 2) for x in v] if isinstance(v, list) else v)
                     for k, v in r.items() if k not in ("end_at", "final_own_at")}
                    for r in records],
    }
    if args.monologue_minutes > 0:
        report["monologue"] = drift(records, args.monologue_minutes)
    return report


def language_id(records: list[dict], languages: dict[str, str]) -> dict:
    utterances = {(r["run"], r["segment"]): r for r in records}.values()
    # Clips outside the shared manifest are named LANG_... (bench/material.py's are).
    wrong = [(r["clip"], r["source_lang"]) for r in utterances
             if languages.get(r["clip"], r["clip"].split("_")[0]) != r["source_lang"]]
    return {"utterances": len(utterances), "right": len(utterances) - len(wrong),
            "wrong": wrong}


def print_table(report: dict) -> None:
    out = sys.stderr
    print(f"\n{'measure (seconds)':56} {'n':>4} {'median':>7} {'p90':>7} {'p95':>7}", file=out)
    for key, label in MEASURES.items():
        s = report["latency_s"][key]
        print(f"  {label:54} {s['n']:4} {s['median']!s:>7} {s['p90']!s:>7} {s['p95']!s:>7}",
              file=out)
    for kind, entry in report["erasures"].items():
        print(f"  erased characters per minute of speech, {kind:8} {entry['erased_per_minute']}"
              f" ({entry['erased_chars']} of {entry['final_chars']} final characters)", file=out)
    print(f"  interpretation audio matched: {report['interpretation_audio_matched']}", file=out)
    ids = report["language_id"]
    print(f"  language ID: {ids['right']} of {ids['utterances']} utterances right"
          + (f"; wrong: {ids['wrong']}" if ids["wrong"] else ""), file=out)
    if "monologue" in report:
        print(f"  drift: {dict((k, v) for k, v in report['monologue'].items() if k != 'points')}",
              file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--languages", default="en,fr",
                        help="listen languages, one listener each (comma-separated)")
    parser.add_argument("--clip", action="extend", nargs="+", default=None,
                        help=f"clips of {AUDIO} played by the speaker in order")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: no warm-up, 1 pass, one clip, two listeners")
    parser.add_argument("--monologue-minutes", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                        "latency.json")
    args = parser.parse_args(argv)
    args.languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    if args.quick:
        args.passes, args.languages = 1, args.languages[:2]
        args.clip = args.clip[:1] if args.clip else [QUICK_CLIP]
    args.clip = args.clip or list(MONOLOGUE_CLIPS if args.monologue_minutes > 0
                                  else DEFAULT_CLIPS)
    assert args.passes >= 1 and args.languages, "need a pass and a listener"
    started = time.monotonic()
    records, erasure_parts = asyncio.run(run(args))
    report = build_report(args, records, erasure_parts, time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    plot(report, records, args.out.with_suffix(".png"))
    print_table(report)
    print(f"runtime {report['runtime_s']} s; wrote {args.out} and "
          f"{args.out.with_suffix('.png').name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
