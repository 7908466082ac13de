"""Benchmark of the built-in room as listeners feel it.

    python -m bench.room [--passes 3] [--out bench/results/room.json]

Starts `interpres serve` as a subprocess (ICE on loopback) and real aiortc clients in this
process: one speaker whose microphone plays the Spanish clip, two listeners (English and
French). Per pass it measures: speech start -> first caption at a listener; utterance end ->
final translated caption at each listener; utterance end -> first interpretation audio with
speech energy at each listener. Then the media latency of the original-voice mix (a tone
burst from one client, timed into another client's mix, against a direct peer-to-peer
baseline), and the server's CPU per connected listener (server process CPU with 1 and with 5
idle participants). Prints a table and writes JSON; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from aiortc import RTCPeerConnection

from bot.audio_io import read_audio
from bot.client import ClipTrack, record
from bot.client import RoomClient as Client
from bot.rtc.ice import restrict_host_addresses
from bot.tts.resample import to_int16_48k

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "audio" / "es_leopard_test.wav"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_server(port: int) -> subprocess.Popen:
    # Every bench client joins from 127.0.0.1: no per-address join limit for them. They
    # share the server's two cores (niced, in bench.capacity): a client starved for 8 s
    # would miss heartbeats and be let go, which browsers on their own machines do not.
    env = {**os.environ, "INTERPRES_ICE_ADDRESSES": "127.0.0.1", "INTERPRES_TRANSCRIPTS": "off",
           "INTERPRES_JOINS_PER_MINUTE": "100000", "INTERPRES_HEARTBEAT_TIMEOUT": "120"}
    # BENCH_SERVER_LOG=FILE keeps the server's log (INFO: joins, leaves, failures).
    log_path = os.environ.get("BENCH_SERVER_LOG")
    log = open(log_path, "a") if log_path else subprocess.DEVNULL  # noqa: SIM115 (the child's)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                              env=env, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError("server did not become ready")


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "p95": round(p95, 3), "max": round(ordered[-1], 3)}


async def one_pass(url: str, room: str, speech: np.ndarray) -> dict[str, list[float]]:
    lead = 1.0
    speaker = Client(url, room, "Ana", "es", "es", mic=ClipTrack(speech, delay=lead))
    listeners = [Client(url, room, "Bob", "en", "en", mic=ClipTrack()),
                 Client(url, room, "Chloé", "fr", "fr", mic=ClipTrack())]
    for client in listeners:
        await client.join()
    await speaker.join()
    await asyncio.sleep(len(speech) / 48000 + lead + 6)
    out: dict[str, list[float]] = {"first_caption": [], "end_to_translated": [],
                                   "end_to_audio": []}
    started = speaker.mic.started_at
    first_frame = started - lead  # the speaker's audio timeline starts with its first frame
    for listener in listeners:
        first = listener.first(lambda m: m.get("type") == "caption")
        if first is not None and started is not None:
            out["first_caption"].append(first - started)
        finals = [(at, m) for at, m in listener.messages if m.get("type") == "caption"
                  and m["final"] and m["text"] and m["lang"] == listener.listen]
        source_finals = {m["segment"]: m for _, m in speaker.messages
                         if m.get("type") == "caption" and m["final"] and m["lang"] == "es"}
        for at, message in finals:
            source = source_finals.get(message["segment"])
            if source is None:
                continue
            words = source.get("words") or []
            end = first_frame + (words[-1]["end"] if words else source["t1"])
            out["end_to_translated"].append(at - end)
            heard = next((r.at for r in listener.interpretation
                          if r.at >= end and r.rms > 0.01), None)
            if heard is not None:
                out["end_to_audio"].append(heard - end)
    for client in [speaker, *listeners]:
        await client.close()
    return out


def burst() -> np.ndarray:
    t = np.arange(int(0.1 * 48000)) / 48000
    return (0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)


def arrival(received, after: float) -> float | None:
    return next((r.at for r in received if r.at >= after and r.rms > 0.05), None)


async def mix_latency(url: str, room: str, repeats: int = 5) -> list[float]:
    """Tone burst from A's microphone until it is heard in B's original-voice mix."""
    out = []
    for i in range(repeats):
        a = Client(url, f"{room}-mix{i}", "A", "en", "en", mic=ClipTrack(burst(), delay=2.0))
        b = Client(url, f"{room}-mix{i}", "B", "en", "en", mic=ClipTrack())
        await b.join()
        await a.join()
        await asyncio.sleep(3.0)
        heard = arrival(b.mix, a.mic.started_at or 0)
        if heard is not None and a.mic.started_at is not None:
            out.append(heard - a.mic.started_at)
        await a.close()
        await b.close()
    return out


async def direct_latency(repeats: int = 5) -> list[float]:
    """The same burst over a direct aiortc pair: what WebRTC costs without the server."""
    out = []
    for _ in range(repeats):
        mic = ClipTrack(burst(), delay=2.0)
        sender, receiver = RTCPeerConnection(), RTCPeerConnection()
        sender.addTrack(mic)
        received = []

        tasks = []
        receiver.on("track", lambda track, sink=received, into=tasks: into.append(
            asyncio.ensure_future(record(track, sink))))

        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await asyncio.sleep(3.0)
        heard = arrival(received, mic.started_at or 0)
        if heard is not None and mic.started_at is not None:
            out.append(heard - mic.started_at)
        await sender.close()
        await receiver.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


async def cpu_per_listener(url: str, pid: int, seconds: float = 15.0) -> dict:
    async def measure(count: int) -> float:
        clients = [Client(url, f"cpu{count}", f"L{i}", "en", "en", mic=ClipTrack())
                   for i in range(count)]
        for client in clients:
            await client.join()
        await asyncio.sleep(3.0)
        before, t0 = process_cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(seconds)
        used = (process_cpu_seconds(pid) - before) / (time.monotonic() - t0)
        for client in clients:
            await client.close()
        await asyncio.sleep(2.0)
        return used

    one = await measure(1)
    five = await measure(5)
    return {"server_cpu_1_participant": round(one, 4), "server_cpu_5_participants": round(five, 4),
            "per_listener_share_of_a_core": round((five - one) / 4, 4)}


async def run(passes: int) -> dict:
    restrict_host_addresses(["127.0.0.1"])
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    speech = to_int16_48k(read_audio(CLIP), 16000)
    try:
        totals: dict[str, list[float]] = {}
        for i in range(passes):
            print(f"pass {i + 1}/{passes}…", file=sys.stderr)
            for key, values in (await one_pass(url, f"bench{i}", speech)).items():
                totals.setdefault(key, []).extend(values)
        mix = await mix_latency(url, "lat")
        direct = await direct_latency()
        cpu = await cpu_per_listener(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    added = [m - statistics.median(direct) for m in mix] if direct else []
    return {
        "speech_start_to_first_caption_s": summary(totals.get("first_caption", [])),
        "utterance_end_to_translated_caption_s": summary(totals.get("end_to_translated", [])),
        "utterance_end_to_interpretation_audio_s": summary(totals.get("end_to_audio", [])),
        "original_mix_latency_s": summary(mix),
        "direct_peer_latency_s": summary(direct),
        "server_added_mix_latency_s": summary(added),
        "cpu": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "room.json")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.passes))
    report["machine"] = {"cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        print(f"{key:42} {value}", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
