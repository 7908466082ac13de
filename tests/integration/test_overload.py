"""Overload and churn on the real room: a stalled recognizer, a reader that stops reading,
and hundreds of join/speak/leave cycles. Nothing grows without bound, nobody else suffers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import threading
import time
import weakref
from dataclasses import replace

import numpy as np
import pytest

from bot.metrics import ProcessStats
from bot.room import participant as participant_module
from bot.server import create_app
from tests.conftest import loopback_config
from tests.rtc_client import Client, ClipTrack, final_caption, voice, wait_open
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
STALL = 60.0



class Looping(ClipTrack):
    """Plays its clip again and again (1 s apart) until told to play another or stop."""

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__(np.concatenate([samples, np.zeros(48000, np.int16)]), delay=0.5)
        self.looping = True

    def next_samples(self) -> np.ndarray | None:
        if self.looping and self.position >= len(self.samples):
            self.position = 0
        return super().next_samples()

    def play_once(self, samples: np.ndarray) -> None:
        self.looping = False
        self.samples, self.position = samples, 0



def queued_audio(pipeline) -> int:
    """Samples of audio (not gaps) waiting in a pipeline's input queue."""
    return sum(len(item) for item in list(pipeline._input._queue)
               if isinstance(item, np.ndarray))


def rss_mb() -> float:
    return ProcessStats.read().resident_bytes / 2**20


def live_rss_mb() -> float:
    """RSS after glibc hands its free pages back. Freed CTranslate2 buffers (their size
    follows batch size x window x beam, and a new largest batch comes at random) otherwise
    stay in malloc's arenas and look like growth; a leak is live memory and still shows."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def open_files() -> set[str]:
    """What this process's file descriptors point at (a socket, a pipe, a path)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # listdir's own descriptor is closed by now
            found.add(f"{fd}: {os.readlink(f'/proc/self/fd/{fd}')}")
    return found


def test_a_stalled_recognizer_stays_bounded_and_recovers_live(engines):
    clips = ["es_leopard", "en_whisper_jfk", "fr_cheetah", "en_ljspeech"]

    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            listener = Client(url, "r", "Listener", "auto", "en")
            speakers = [Client(url, "r", f"S{i}", "en" if i == 0 else "auto", "en",
                               mic=Looping(voice(name))) for i, name in enumerate(clips)]
            for client in (listener, *speakers):
                await client.join()
            await wait_open(listener, *speakers)
            joined = {s.participant: time.monotonic() for s in speakers}
            await asyncio.sleep(8)
            room = app.state.interpres.rooms.rooms["r"]
            pipelines = [p.pipeline for p in room.participants.values() if p.name != "Listener"]

            blocker = threading.Event()
            # One call per lane: every lane of the scheduler stalls.
            stall = asyncio.gather(*(engines.scheduler.call(blocker.wait)
                                     for _ in range(engines.scheduler.lanes)))
            stalled_at, rss_before = time.monotonic(), rss_mb()
            peak_queue = 0
            while time.monotonic() - stalled_at < STALL:
                await asyncio.sleep(2)
                for client in (listener, *speakers):  # the clients' own per-frame records
                    client.mix.clear()                # are not the server's memory
                    client.interpretation.clear()
                peak_queue = max(peak_queue, *(queued_audio(p) for p in pipelines))
            rss_growth = rss_mb() - rss_before
            for speaker in speakers[1:]:
                speaker.mic.play_once(np.zeros(0, np.int16))
            speakers[0].mic.play_once(voice("en_leopard"))
            blocker.set()
            await stall
            unblocked = time.monotonic()

            def fresh(m: dict) -> bool:  # a final of speech that began after the stall
                return (m.get("type") == "caption" and m["final"] and m["text"]
                        and m["speaker"]["id"] == speakers[0].participant
                        and joined[m["speaker"]["id"]] + m["t0"] >= unblocked - 1.5)

            await listener.wait_for(fresh, timeout=10 + 3)
            live_after = listener.first(fresh) - unblocked
            stale = [m for _, m in listener.messages if m.get("type") == "caption"
                     and m["final"] and m["text"] and m["speaker"]["id"] in joined
                     and stalled_at + 3 <= joined[m["speaker"]["id"]] + m["t0"] <= unblocked - 2]
            print(f"stall {STALL:.0f} s: RSS +{rss_growth:.1f} MB, largest input backlog "
                  f"{peak_queue / 16000:.1f} s of audio, live again {live_after:.1f} s after, "
                  f"dropped {[round(p.dropped_input_seconds) for p in pipelines]} s")
            assert rss_growth < 20
            # Queued audio (what costs memory) stays within max_input_seconds plus a push;
            # what was dropped is counted once.
            assert peak_queue <= (pipelines[0].options.max_input_seconds + 0.2) * 16000
            assert all(STALL - 15 < p.dropped_input_seconds < STALL + 12 for p in pipelines)
            assert live_after <= 10.0
            assert not stale, [m["text"] for m in stale]
            for client in (listener, *speakers):
                await client.close()

    asyncio.run(main())


def test_a_reader_that_stops_reading_loses_its_captions_alone(engines, monkeypatch):
    # A peer whose link stalls: its data channel stops taking data. The threshold is lowered
    # so that a few captions pass it before the heartbeat would release that peer.
    monkeypatch.setattr(participant_module, "MAX_BUFFERED", 256)

    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            ana = Client(url, "r", "Ana", "es", "es", mic=ClipTrack(voice("es_leopard"), 2.0))
            bob = Client(url, "r", "Bob", "en", "en")
            slow = Client(url, "r", "Slow", "en", "en")
            # (aiortc counts a message in bufferedAmount once its congestion window and
            # send queue are full: about 4 KB in flight first.)
            for client in (bob, slow, ana):
                await client.join()
            await wait_open(bob, slow, ana)
            room = app.state.interpres.rooms.rooms["r"]
            stalled = next(p for p in room.participants.values() if p.name == "Slow")
            slow.vanish()  # its link stalls: nothing it is sent is acknowledged any more
            await bob.wait_for(final_caption("en"), timeout=30)
            assert stalled.dropped_messages > 0
            # Bob got every caption of every segment, in order: revisions 1, 2, ... n.
            revs: dict[str, list[int]] = {}
            for _, m in bob.messages:
                if m.get("type") == "caption" and m["lang"] == "en":
                    revs.setdefault(m["segment"], []).append(m["rev"])
            assert revs and all(r == sorted(r) and len(set(r)) == len(r)
                                for r in revs.values()), revs
            finals = [m for _, m in bob.messages if m.get("type") == "caption" and m["final"]]
            assert {m["segment"] for m in finals} == set(revs)
            print(f"stalled reader: {stalled.dropped_messages} caption message(s) dropped")
            for client in (ana, bob, slow):
                await client.close()

    asyncio.run(main())


def test_join_speak_leave_cycles_leave_nothing_behind(engines):
    """100 participants (after 150 to warm up) come, speak 5 s and go, ten at a time."""
    cycles, parallel = 100, 10
    speech = voice("en_whisper_jfk")[: 48000 * 5]

    # What the server made for each measured participant, held weakly: a leak that keeps
    # any of it (a registry, a task, a callback) shows exactly, whatever RSS does.
    kept: weakref.WeakSet = weakref.WeakSet()
    made = 0

    async def one(url: str, index: int, state=None) -> None:
        nonlocal made
        client = Client(url, "churn", f"P{index}", "auto", "en" if index % 2 else "fr",
                        mic=ClipTrack(speech, 0.2))
        await client.join()
        await asyncio.sleep(5.5)
        if state is not None:
            room = state.rooms.rooms.get("churn")
            mine = [p for p in (room.participants.values() if room else ())
                    if p.name == f"P{index}"]
            for participant in mine:
                made += 1
                kept.update(o for o in (participant, participant.pc, participant.pipeline,
                                        participant.audio, participant.mix) if o is not None)
        await client.close()

    async def main() -> None:
        config = replace(loopback_config(), joins_per_minute=100_000)
        app = create_app(config, engines=engines)
        async with running_server(app) as url:
            state = app.state.interpres

            async def settle(tasks: int | None = None) -> tuple[float, int, int, set, int]:
                for _ in range(100):
                    await asyncio.sleep(0.2)
                    if not state.peer_connections and not state.rooms.rooms:
                        break
                await asyncio.sleep(2)
                # Leavers' last utterances are still being finished (decoded, translated):
                # bounded work, not a leak; give it time to end.
                for _ in range(150):
                    if tasks is None or len(asyncio.all_tasks()) <= tasks:
                        break
                    await asyncio.sleep(0.2)
                gc.collect()
                return (live_rss_mb(), len(asyncio.all_tasks()), threading.active_count(),
                        open_files(), len(gc.get_objects()))

            # Warm-up: pools, caches and the allocator. Batched finals leave freed buffers in
            # malloc's arenas, so memory is measured live (after malloc_trim). After the rest
            # of the suite, live memory still climbed for ~50 cycles past the warm-up before
            # it went flat (1138 -> 1179 MB, then 1233 -> 1236; 1174 -> 1219, then 1253 ->
            # 1256), so a leak is growth in the second half, and the whole stays bounded.
            async def cycle(count: int, first: int, watched=None) -> None:
                for batch in range(count // parallel):
                    await asyncio.gather(*(one(url, first + batch * parallel + i, watched)
                                           for i in range(parallel)))

            await cycle(150, 0)
            before = await settle()
            await cycle(cycles // 2, 1000, state)
            middle = await settle(tasks=before[1])
            await cycle(cycles // 2, 2000, state)
            after = await settle(tasks=before[1])
            alive = sorted({type(o).__name__ for o in kept})
            print(f"{cycles} cycles: live RSS {before[0]:.0f} -> {middle[0]:.0f} -> "
                  f"{after[0]:.0f} MB (RSS {rss_mb():.0f}), tasks {before[1]} -> {after[1]}, "
                  f"threads {before[2]} -> {after[2]}, files {len(before[3])} -> "
                  f"{len(after[3])}, objects {before[4]} -> {middle[4]} -> {after[4]}; "
                  f"{len(kept)} of {made} participants' objects still alive {alive}")
            assert not state.peer_connections and not state.rooms.rooms
            assert made == cycles
            # Every participant's objects are gone: its peer connection, pipeline, feed, mix.
            assert not kept, alive
            # Nor does anything else of theirs stay: 100 peer connections kept on purpose
            # left 43,000 objects a half (alone, no leak: 86963 -> 86841 -> 86977).
            assert after[4] - middle[4] < cycles * 20
            # Once warm, settled live memory still wanders by ~20 MB either way between
            # measurements after the rest of the suite (1223 -> 1184 -> 1206 MB; 1177 -> 1177
            # -> 1194), and those 100 kept peer connections did not even show in it (521 ->
            # 535 -> 511 MB): memory only bounds what native code could keep (0.6 MB each).
            assert after[0] - max(before[0], middle[0]) < 30
            assert after[0] - before[0] < 60  # and a bounded climb before that
            assert after[1] <= before[1] and after[2] <= before[2]
            # A descriptor per participant (100 here) is a leak; one or two opened once, by a
            # pool or process some earlier test's engines start lazily, are not.
            print("files opened and kept:", sorted(after[3] - before[3]))
            assert len(after[3]) - len(before[3]) < cycles // 20, sorted(after[3] - before[3])

    asyncio.run(main())
