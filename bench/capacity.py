"""How many simultaneous speakers one server holds, as listeners feel it.

    python -m bench.capacity [--listeners 10] [--languages en,fr] [--step-seconds 60]
                             [--min-speakers 1] [--max-speakers 4] [--rooms 1] [--quick]
                             [--out bench/results/capacity.json]
    python -m bench.capacity --soak-minutes 30 --max-speakers 2 [--warmup-minutes 5]
    python -m bench.capacity --speech MATERIAL/manifest.tsv ...  (speakers loop its files)

Starts `interpres serve` as a subprocess (ICE on loopback, transcripts off) and real aiortc
clients in this process, niced below the server (they would be on other machines): a fixed
set of silent listeners spread over the rooms (--rooms, one by default) and the listen
languages, then steps of N = 1, 2, ... speakers in every room, each looping a different clip
from ../shared/audio with about 1 s of silence between plays (speak "auto"); with --speech,
the files of that manifest in its order instead (long talks made by `python -m
bench.material`: each speaker says varied sentences with their pauses, as in a meeting,
rather than one sentence again and again). Per step:
utterance end -> final caption at each listener of the speaker's room (p50, p95, first half
against second half of the step, to see a backlog grow), interim source captions per
speaker per second, the shed and dropped counters and the recognition scheduler's queue
wait per request kind (p50/p95 as histogram bucket bounds), mean batch size and dropped
interims (deltas of the server's /metrics), event-loop lag p99 (/metrics, a 60 s window),
server CPU and RSS (/proc of the server process). A step holds when final-caption p95 <=
2 s, the second half is not more than 0.5 s slower than the first, and no input audio and no
interpretation audio was dropped; ramping stops at the first step that does not. The
clients' CPU is reported apart and is not the server's.

--soak-minutes holds one load for that long instead: RSS, CPU and loop lag every 30 s, the
RSS slope (MB/min) fitted after the warm-up, final-caption latency per sixth of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.accuracy import ManifestError, read_manifest
from bench.room import free_port, start_server
from bot.audio_io import read_audio
from bot.client import ClipTrack
from bot.client import RoomClient as Client
from bot.config import Config
from bot.metrics import ProcessStats, histogram_quantile, parse
from bot.rtc.ice import restrict_host_addresses
from bot.rtc.tracks import FRAME, PacedTrack
from bot.tts.resample import to_int16_48k

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "audio"
# Languages with a translation route first, so every speaker's captions reach every listener.
CLIPS = ["es_leopard_test.wav", "en_leopard_test.wav", "fr_cheetah_v21_test.wav",
         "en_whisper_jfk.wav", "en_ljspeech_LJ001-0001.wav", "de_cheetah_v21_test.wav",
         "zh_wenet_aishell_BAC009S0724W0121.wav"]
P95_LIMIT = 2.0
GROWTH_LIMIT = 0.5
GRACE = 4.0  # seconds after a step for the finals of its last utterances to arrive
COUNTERS = {
    "skipped_interim_decodes": "interpres_skipped_interim_decodes_total",
    "dropped_input_seconds": "interpres_dropped_input_seconds_total",
    "dropped_speech_clips": "interpres_dropped_speech_clips_total",
    "dropped_caption_messages": "interpres_dropped_caption_messages_total",
}



def lead_seconds() -> float:
    """The lead the server runs with: it reads the same file and environment (finals cost
    about twice as much with a 12 s lead as without; see [asr] lead_seconds)."""
    return Config.from_env().asr_lead_seconds

class LoopTrack(PacedTrack):
    """Plays 48 kHz int16 samples again and again with `gap` seconds of silence between,
    after `delay` seconds of silence. Silence is sent (not skipped), so frame k is second
    k * 0.02 of the server's timeline for this speaker; `sent_at[k]` is when it was made."""

    def __init__(self, samples: np.ndarray, gap: float = 1.0, delay: float = 0.5) -> None:
        super().__init__()
        gap_samples = np.zeros(int(gap * 48000), np.int16)
        self.cycle = np.concatenate([samples, gap_samples])
        self.delay_frames = int(delay * 50)
        self.position = 0
        self.sent_at: list[float] = []

    def next_samples(self) -> np.ndarray:
        self.sent_at.append(time.monotonic())
        if len(self.sent_at) <= self.delay_frames:
            return np.zeros(FRAME, np.int16)
        chunk = np.take(self.cycle, np.arange(self.position, self.position + FRAME),
                        mode="wrap")
        self.position = (self.position + FRAME) % len(self.cycle)
        return chunk

    def wall_time(self, seconds: float) -> float | None:
        """When second `seconds` of this speaker's timeline was sent."""
        index = int(round(seconds * 50))
        return self.sent_at[index] if 0 <= index < len(self.sent_at) else None


@dataclass
class Step:
    speakers: int
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (utterance end, s)
    utterances: list[dict] = field(default_factory=list)  # the slowest are reported
    missing: int = 0
    interims: list[int] = field(default_factory=list)


def fetch_metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return parse(response.read().decode())


async def wait_open(clients: list[Client], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while any(c.channel.readyState != "open" for c in clients):
        if time.monotonic() > deadline:
            raise RuntimeError("data channels did not open")
        await asyncio.sleep(0.05)


def measure(step: Step, speakers: list[Client], listeners: list[Client],
            window: tuple[float, float]) -> None:
    """Latencies of the utterances that ended inside `window`, at every listener."""
    for speaker in speakers:
        mic: LoopTrack = speaker.mic  # type: ignore[assignment]
        own = [(at, m) for at, m in speaker.messages if m.get("type") == "caption"
               and m["speaker"]["id"] == speaker.participant and m["lang"] == m["source_lang"]]
        step.interims.append(sum(1 for at, m in own if not m["final"]
                                 and window[0] <= at <= window[1]))
        for _, source in own:
            if not source["final"] or not source["text"]:
                continue
            words = source.get("words") or []
            end = mic.wall_time(words[-1]["end"] if words else source["t1"])
            if end is None or not window[0] <= end <= window[1]:
                continue
            heard: dict[str, float] = {}
            for listener in listeners:
                arrived = next((at for at, m in listener.messages
                                if m.get("type") == "caption" and m["final"]
                                and m["lang"] == listener.listen
                                and m["speaker"]["id"] == speaker.participant
                                and m["segment"] == source["segment"]), None)
                if arrived is None:
                    step.missing += 1
                else:
                    step.latencies.append((end, arrived - end))
                    heard[listener.listen] = max(heard.get(listener.listen, 0.0), arrived - end)
            if heard:
                # What makes a tail: which utterance, how long its speech, each language.
                step.utterances.append({
                    "speaker": speaker.name, "segment": source["segment"],
                    "speech_s": round(source["t1"] - source["t0"], 2),
                    "text": source["text"][:80],
                    "slowest_listener_s": {lang: round(v, 3) for lang, v in heard.items()}})


def scheduler_figures(before: dict[str, float], after: dict[str, float], wall: float) -> dict:
    """The recognition scheduler over one step, from /metrics deltas: queue wait p50/p95
    per request kind (histogram bucket bounds), decode time per kind (exact mean, p95
    bound), how busy the recognition thread was, mean batch size, interims dropped."""
    delta = {key: value - before.get(key, 0.0) for key, value in after.items()}
    waits, decodes = {}, {}
    for kind in ("final", "interim", "translate"):
        match = f'kind="{kind}"'
        p50 = histogram_quantile(delta, "interpres_asr_queue_wait_seconds", 0.5, match)
        p95 = histogram_quantile(delta, "interpres_asr_queue_wait_seconds", 0.95, match)
        if not math.isnan(p50):
            waits[kind] = {"p50_le": p50, "p95_le": p95}
        count = delta.get(f'interpres_asr_decode_seconds_count{{{match}}}', 0.0)
        if count:
            total = delta.get(f'interpres_asr_decode_seconds_sum{{{match}}}', 0.0)
            decodes[kind] = {
                "count": round(count), "mean": round(total / count, 3),
                "p95_le": histogram_quantile(delta, "interpres_asr_decode_seconds", 0.95, match)}
    # Each request observes its batch's time, so this is exact for batches of one and an
    # upper bound otherwise.
    busy = sum(v for k, v in delta.items() if k.startswith("interpres_asr_decode_seconds_sum"))
    batches = delta.get("interpres_asr_batch_size_count", 0.0)
    dropped = sum(v for k, v in delta.items()
                  if k.startswith("interpres_asr_dropped_requests_total"))
    return {"queue_wait_s": waits, "decode_s": decodes,
            "asr_busy_percent": round(100 * busy / wall, 1),
            "mean_batch_size": round(delta.get("interpres_asr_batch_size_sum", 0.0) / batches,
                                     2) if batches else None,
            "interims_dropped_by_scheduler": round(dropped),
            # The load-shedding controller's interim spacing when the step ended (1: none).
            "interim_spacing": round(after.get("interpres_asr_interim_spacing", 1.0), 2)}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


async def run_step(url: str, pid: int, n: int, rooms: dict[str, list[Client]],
                   speech: list[np.ndarray], seconds: float) -> dict:
    """`n` speakers in each room for `seconds`; the figures of the utterances that ended
    inside the step, at every listener of the speaker's room."""
    step = Step(n * len(rooms))
    before, cpu0, own0 = fetch_metrics(url), ProcessStats.read(pid), ProcessStats.read()
    started = time.monotonic()
    speakers: dict[str, list[Client]] = {}
    for r, (room, listeners) in enumerate(rooms.items()):
        speakers[room] = [Client(url, room, f"S{r + 1}.{i + 1}", "auto", listeners[0].listen,
                                 mic=LoopTrack(speech[(r * n + i) % len(speech)], delay=0.5))
                          for i in range(n)]
    everyone = [speaker for group in speakers.values() for speaker in group]
    for speaker in everyone:
        await speaker.join()
    await wait_open(everyone)
    for speaker in everyone:  # source captions too, to know when each utterance ended
        speaker.send({"type": "listen", "lang": speaker.listen, "source": True})
    await asyncio.sleep(seconds)
    ended = time.monotonic()
    after, cpu1, own1 = fetch_metrics(url), ProcessStats.read(pid), ProcessStats.read()
    await asyncio.sleep(GRACE)
    for room, listeners in rooms.items():
        measure(step, speakers[room], listeners, (started, ended))
    for speaker in everyone:
        await speaker.close()
    for listener in (c for group in rooms.values() for c in group):
        listener.messages.clear()
        listener.mix.clear()
        listener.interpretation.clear()
    await asyncio.sleep(2.0)
    wall = ended - started
    values = [latency for _, latency in step.latencies]
    middle = started + wall / 2
    first = [lat for end, lat in step.latencies if end < middle]
    second = [lat for end, lat in step.latencies if end >= middle]
    first_median = statistics.median(first) if first else None
    second_median = statistics.median(second) if second else None
    growth = (first_median is not None and second_median is not None
              and second_median - first_median > GROWTH_LIMIT)
    deltas = {key: round(after.get(name, 0.0) - before.get(name, 0.0), 3)
              for key, name in COUNTERS.items()}
    p95 = percentile(values, 0.95)
    holds = (p95 is not None and p95 <= P95_LIMIT and not growth
             and deltas["dropped_input_seconds"] == 0 and deltas["dropped_speech_clips"] == 0)
    return {
        "speakers": n,
        "rooms": len(rooms),
        "finals": len(values),
        "missing_finals": step.missing,
        "final_latency_s": {"p50": rounded(percentile(values, 0.5)), "p95": rounded(p95),
                            "max": rounded(max(values) if values else None),
                            "first_half_median": rounded(first_median),
                            "second_half_median": rounded(second_median)},
        "backlog_grows": growth,
        "interims_per_speaker_per_s": round(statistics.mean(step.interims) / wall, 2),
        **deltas,
        **scheduler_figures(before, after, wall),
        "event_loop_lag_p99_s": rounded(after.get('interpres_event_loop_lag_seconds'
                                                  '{quantile="0.99"}'), 4),
        "server_cpu_percent": round(100 * (cpu1.cpu_seconds - cpu0.cpu_seconds) / wall, 1),
        "server_rss_mb": round(cpu1.resident_bytes / 2**20, 1),
        "client_cpu_percent": round(100 * (own1.cpu_seconds - own0.cpu_seconds) / wall, 1),
        "holds": holds,
        "slowest_utterances": sorted(
            step.utterances, key=lambda u: -max(u["slowest_listener_s"].values()))[:5],
    }


@dataclass(frozen=True)
class Speech:
    """What the speakers say: one file each, in order (48 kHz int16), and their names."""
    names: list[str]
    samples: list[np.ndarray]


def shared_clips() -> Speech:
    return Speech(list(CLIPS), [to_int16_48k(read_audio(AUDIO / name), 16000)
                                for name in CLIPS])


def manifest_speech(path: Path) -> Speech:
    """The files of a manifest (bench.accuracy's format), checked the same way."""
    rows = read_manifest(path)
    return Speech([row.file for row in rows], [to_int16_48k(row.audio, 16000) for row in rows])


@dataclass
class Bench:
    server: subprocess.Popen
    url: str
    speech: list[np.ndarray]  # one per speaker in turn, 48 kHz int16
    listeners: list[Client]
    rooms: dict[str, list[Client]]  # the same listeners, by room


@contextlib.asynccontextmanager
async def serving(listener_count: int, languages: list[str], room: str | list[str],
                  speech: Speech, nice: bool = True) -> AsyncIterator[Bench]:
    """The server as a subprocess and `listener_count` silent listeners spread over the
    rooms, each room getting every listen language in turn."""
    rooms = [room] if isinstance(room, str) else room
    restrict_host_addresses(["127.0.0.1"])
    port = free_port()
    server = start_server(port)
    if nice:
        clients_yield_cpu()
    url = f"http://127.0.0.1:{port}"
    listeners = [Client(url, rooms[i % len(rooms)], f"L{i + 1}", "auto",
                        languages[(i // len(rooms)) % len(languages)], mic=ClipTrack())
                 for i in range(listener_count)]
    by_room = {name: [c for i, c in enumerate(listeners) if i % len(rooms) == rooms.index(name)]
               for name in rooms}
    try:
        for listener in listeners:
            await listener.join()
        await wait_open(listeners)
        yield Bench(server, url, speech.samples, listeners, by_room)
        for listener in listeners:
            await listener.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


async def run(listener_count: int, languages: list[str], seconds: float,
              max_speakers: int, min_speakers: int = 1, rooms: int = 1,
              speech: Speech | None = None) -> dict:
    steps: list[dict] = []
    names = ["capacity"] if rooms == 1 else [f"capacity-{r + 1}" for r in range(rooms)]
    # Captions are what is measured: decoding every received track in this one process
    # starved its event loop at two speakers, and the receive times it took went late.
    discard_received_audio()
    speech = speech or shared_clips()
    async with serving(listener_count, languages, names, speech) as bench:
        for n in range(min_speakers, max_speakers + 1):
            print(f"step: {n} speaker(s) in each of {rooms} room(s), {listener_count} "
                  f"listeners, {seconds:g} s…", file=sys.stderr)
            steps.append(await run_step(bench.url, bench.server.pid, n, bench.rooms,
                                        bench.speech, seconds))
            if not steps[-1]["holds"]:
                break
    held = [s["speakers"] for s in steps if s["holds"]]
    return {
        "capacity_speakers": max(held) if held else 0,
        "criterion": f"final-caption p95 <= {P95_LIMIT} s, second-half median at most "
                     f"{GROWTH_LIMIT} s above first-half, no input audio dropped",
        "config": {"listeners": listener_count, "languages": languages, "rooms": rooms,
                   "step_seconds": seconds, "max_speakers": max_speakers,
                   "clips": speech.names[:max_speakers * rooms],
                   "lead_seconds": lead_seconds()},
        "steps": steps,
        "note": "clients (speakers and listeners) run in the bench process: client_cpu_percent "
                "is that process; server_cpu_percent is the server process alone",
        "machine": {"cpus": os.cpu_count()},
    }


def discard_received_audio() -> None:
    """The soak's clients measure captions only: their received audio is not decoded. Twelve
    peers' twenty decoder threads fought over the GIL with the clients' event loop until,
    after a few minutes, their ICE consent checks failed and the server let them go, which
    made the load smaller than asked. The server's work does not change."""
    import aiortc.rtcrtpreceiver as receiver

    def discard(loop, input_q, output_q, decode_error) -> None:
        while input_q.get() is not None:
            pass
        asyncio.run_coroutine_threadsafe(output_q.put(None), loop)

    receiver.decoder_worker = discard


def clients_yield_cpu() -> None:
    """Lower this process's CPU priority below the server's (started before, so unaffected).

    In a meeting the clients run on other machines; here twelve aiortc peers share the
    server's two cores and took a third of them. Niced, they get what the server leaves, so
    the server is measured as if alone, and a starved client can only make latency (measured
    at the client) look worse, never better."""
    os.nice(10)


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) samples, per minute."""
    if len(samples) < 3:
        return None
    t = np.array([at for at, _ in samples])
    v = np.array([value for _, value in samples])
    return float(np.polyfit(t / 60.0, v, 1)[0])


async def run_soak(listener_count: int, languages: list[str], speaker_count: int,
                   minutes: float, warmup_minutes: float, sample_seconds: float = 30.0,
                   speech: Speech | None = None) -> dict:
    """One long step: RSS, CPU and loop lag sampled every `sample_seconds`, final-caption
    latency per block of the run; RSS growth is the fitted slope after the warm-up."""
    samples: list[dict] = []
    discard_received_audio()
    # Not niced: over half an hour, niced clients starved by a burst fell behind on ICE
    # consent checks and were dropped, which made the load smaller than asked.
    speech = speech or shared_clips()
    async with serving(listener_count, languages, "soak", speech, nice=False) as bench:
        server, url, listeners = bench.server, bench.url, bench.listeners
        speakers = [Client(url, "soak", f"S{i + 1}", "auto", listeners[0].listen,
                           mic=LoopTrack(bench.speech[i % len(bench.speech)], delay=0.5))
                    for i in range(speaker_count)]
        for speaker in speakers:
            await speaker.join()
        await wait_open(speakers)
        for speaker in speakers:
            speaker.send({"type": "listen", "lang": speaker.listen, "source": True})
        started = time.monotonic()
        before = fetch_metrics(url)
        previous = ProcessStats.read(server.pid), started
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(sample_seconds)
            for client in listeners + speakers:
                # Only captions are measured here. Half an hour of per-frame audio records
                # is millions of objects: the clients' garbage collector then paused them
                # long enough to fail ICE consent checks, and the server let them go.
                client.mix.clear()
                client.interpretation.clear()
            now = time.monotonic()
            stats = ProcessStats.read(server.pid)
            metrics = fetch_metrics(url)
            samples.append({
                "t_s": round(now - started, 1),
                "rss_mb": round(stats.resident_bytes / 2**20, 2),
                "server_cpu_percent": round(100 * (stats.cpu_seconds - previous[0].cpu_seconds)
                                            / (now - previous[1]), 1),
                "event_loop_lag_p99_s": rounded(metrics.get(
                    'interpres_event_loop_lag_seconds{quantile="0.99"}'), 4),
                # Clients starved of CPU miss heartbeats and are let go: visible here.
                "participants": int(metrics.get("interpres_participants", 0)),
            })
            previous = stats, now
            print(f"  {samples[-1]['t_s'] / 60:5.1f} min  RSS {samples[-1]['rss_mb']:7.1f} MB  "
                  f"CPU {samples[-1]['server_cpu_percent']:5.1f} %  loop lag p99 "
                  f"{samples[-1]['event_loop_lag_p99_s']} s  participants "
                  f"{samples[-1]['participants']}", file=sys.stderr)
        ended = time.monotonic()
        after = fetch_metrics(url)
        await asyncio.sleep(GRACE)
        step = Step(speaker_count)
        measure(step, speakers, listeners, (started, ended))
        for speaker in speakers:
            await speaker.close()
    block = max(60.0, minutes * 60 / 6)
    blocks = []
    for i in range(int(np.ceil(minutes * 60 / block))):
        values = [lat for end, lat in step.latencies
                  if started + i * block <= end < started + (i + 1) * block]
        blocks.append({"from_min": round(i * block / 60, 1), "finals": len(values),
                       "p50": rounded(percentile(values, 0.5)),
                       "p95": rounded(percentile(values, 0.95))})
    settled = [(s["t_s"], s["rss_mb"]) for s in samples if s["t_s"] >= warmup_minutes * 60]
    values = [lat for _, lat in step.latencies]
    lags = [s["event_loop_lag_p99_s"] for s in samples if s["event_loop_lag_p99_s"] is not None]
    return {
        "config": {"listeners": listener_count, "languages": languages,
                   "speakers": speaker_count, "minutes": minutes,
                   "warmup_minutes": warmup_minutes, "clips": speech.names[:speaker_count],
                   "lead_seconds": lead_seconds()},
        "rss_mb": {"after_warmup": settled[0][1] if settled else None,
                   "end": samples[-1]["rss_mb"] if samples else None,
                   "max": max((s["rss_mb"] for s in samples), default=None),
                   "slope_mb_per_min_after_warmup": rounded(slope_per_minute(settled), 3)},
        "final_latency_s": {"finals": len(values), "missing": step.missing,
                            "p50": rounded(percentile(values, 0.5)),
                            "p95": rounded(percentile(values, 0.95)), "blocks": blocks},
        "event_loop_lag_p99_s": {"median_of_windows": rounded(statistics.median(lags), 4)
                                 if lags else None, "max_of_windows": max(lags, default=None)},
        "participants_min": min((s["participants"] for s in samples), default=None),
        "server_cpu_percent_median": rounded(statistics.median(
            s["server_cpu_percent"] for s in samples), 1) if samples else None,
        **{key: round(after.get(name, 0.0) - before.get(name, 0.0), 3)
           for key, name in COUNTERS.items()},
        "samples": samples,
        "machine": {"cpus": os.cpu_count()},
    }


def soak_table(report: dict) -> str:
    rss, latency, lag = report["rss_mb"], report["final_latency_s"], report["event_loop_lag_p99_s"]
    lines = [f"RSS after warm-up {rss['after_warmup']} MB, end {rss['end']} MB, max {rss['max']} "
             f"MB, slope after warm-up {rss['slope_mb_per_min_after_warmup']} MB/min",
             f"final caption at listeners: {latency['finals']} finals, p50 {latency['p50']} s, "
             f"p95 {latency['p95']} s, {latency['missing']} missing",
             f"event-loop lag p99 (60 s windows): median {lag['median_of_windows']} s, "
             f"max {lag['max_of_windows']} s; server CPU median "
             f"{report['server_cpu_percent_median']} %",
             "block (min)  finals  p50 s  p95 s"]
    lines += [f"{b['from_min']:>11}  {b['finals']:>6}  {b['p50']}  {b['p95']}"
              for b in latency["blocks"]]
    return "\n".join(lines)


COLUMNS = [("rooms", "rooms"), ("speakers", "N"), ("finals", "finals"), ("missing_finals", "miss"),
           ("p50", "p50 s"), ("p95", "p95 s"), ("first_half_median", "1st½ s"),
           ("second_half_median", "2nd½ s"), ("interims_per_speaker_per_s", "int/s"),
           ("skipped_interim_decodes", "skip"), ("dropped_input_seconds", "drop in s"),
           ("dropped_speech_clips", "drop clip"), ("dropped_caption_messages", "drop msg"),
           ("final_wait_p95", "fin wait"), ("interim_wait_p95", "int wait"),
           ("final_decode_mean", "fin dec"), ("interim_decode_mean", "int dec"),
           ("asr_busy_percent", "asr busy%"),
           ("mean_batch_size", "batch"), ("interims_dropped_by_scheduler", "int drop"),
           ("interim_spacing", "spacing"),
           ("event_loop_lag_p99_s", "lag p99"), ("server_cpu_percent", "srv cpu%"),
           ("server_rss_mb", "rss MB"), ("client_cpu_percent", "cli cpu%"), ("holds", "holds")]


def table(steps: list[dict]) -> str:
    rows = [[label for _, label in COLUMNS]]
    for step in steps:
        waits = step["queue_wait_s"]
        flat = {**step, **step["final_latency_s"],
                "final_wait_p95": waits.get("final", {}).get("p95_le"),
                "interim_wait_p95": waits.get("interim", {}).get("p95_le"),
                "final_decode_mean": step["decode_s"].get("final", {}).get("mean"),
                "interim_decode_mean": step["decode_s"].get("interim", {}).get("mean")}
        rows.append([str(flat.get(key)) for key, _ in COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--languages", default="en,fr")
    parser.add_argument("--step-seconds", type=float, default=60.0)
    parser.add_argument("--min-speakers", type=int, default=1, help="the first step")
    parser.add_argument("--max-speakers", type=int, default=4,
                        help="the last step (speakers per room)")
    parser.add_argument("--rooms", type=int, default=1,
                        help="rooms at once: listeners spread over them, each step puts N "
                             "speakers in every room")
    parser.add_argument("--quick", action="store_true",
                        help="1 speaker, 2 listeners, 20 s: a smoke test")
    parser.add_argument("--soak-minutes", type=float, default=0.0,
                        help="instead of ramping: hold --max-speakers speakers this long and "
                             "report RSS growth (after --warmup-minutes), CPU and latency")
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--speech", type=Path, default=None, metavar="MANIFEST",
                        help="speakers loop this manifest's files in order (e.g. the long "
                             "talks of `python -m bench.material DIR`) instead of the "
                             "shared clips")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.out is None:
        name = "soak.json" if args.soak_minutes else "capacity.json"
        args.out = ROOT / "bench" / "results" / name
    if args.quick:
        args.listeners, args.step_seconds, args.max_speakers = 2, 20.0, 1
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    if not languages or args.listeners < 1 or args.max_speakers < 1:
        parser.error("need at least one language, one listener and one speaker")
    try:
        speech = manifest_speech(args.speech) if args.speech else shared_clips()
    except ManifestError as error:
        parser.error(f"--speech: {error}")
    if args.soak_minutes:
        warmup = min(args.warmup_minutes, args.soak_minutes / 3)
        print(f"soak: {args.max_speakers} speaker(s), {args.listeners} listeners, "
              f"{args.soak_minutes:g} min (warm-up {warmup:g} min)…", file=sys.stderr)
        report = asyncio.run(run_soak(args.listeners, languages, args.max_speakers,
                                      args.soak_minutes, warmup,
                                      sample_seconds=min(30.0, args.soak_minutes * 6),
                                      speech=speech))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(soak_table(report), file=sys.stderr)
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    report = asyncio.run(run(args.listeners, languages, args.step_seconds, args.max_speakers,
                             min(args.min_speakers, args.max_speakers), args.rooms, speech))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report["steps"]), file=sys.stderr)
    print(f"capacity: {report['capacity_speakers']} speaker(s) ({report['criterion']})",
          file=sys.stderr)
    print(f"note: {report['note']}", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
