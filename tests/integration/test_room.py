"""The built-in room with real aiortc peers: the app under uvicorn, clients like the page."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from dataclasses import replace

import numpy as np
import pytest

from bot.server import create_app
from bot.store import TranscriptStore
from tests.conftest import loopback_config
from tests.rtc_client import Client, ClipTrack, energy_after, final_caption, post_json, voice
from tests.server_runner import running_server

pytestmark = pytest.mark.slow


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read().decode("utf-8")



def test_spanish_speaker_reaches_english_listener(engines, tmp_path):
    store = TranscriptStore(tmp_path / "t.sqlite3")

    async def main() -> None:
        app = create_app(loopback_config(), engines=engines, store=store)
        async with running_server(app) as url:
            ana = Client(url, "team", "Ana", "es", "es", mic=ClipTrack(voice("es_leopard"), 1.0))
            bob = Client(url, "team", "Bob", "en", "en")
            await bob.join()
            await ana.join()
            # Media stays on loopback: the server offers only 127.0.0.1 candidates.
            candidates = [line for line in ana.answer_sdp.splitlines()
                          if line.startswith("a=candidate")]
            assert candidates and all(" 127.0.0.1 " in line for line in candidates)
            caption = await bob.wait_for(final_caption("en"), timeout=30)
            heard_at = bob.first(final_caption("en"))
            assert "sands" in caption["text"].lower()
            assert caption["speaker"] == {"id": ana.participant, "name": "Ana"}
            assert caption["engine"] == "apertium:spa-eng"
            # Bob's interpretation track speaks after the caption arrives (and stops: the
            # voice takes 3-4 s, so wait for its end rather than a fixed time).
            await bob.wait_for(lambda m: m.get("type") == "speech" and m["state"] == "stop",
                               timeout=15)
            assert energy_after(bob.interpretation, heard_at) > 0.8
            # Ana's words reach Bob's original-voice mix, and never Ana's own.
            assert energy_after(bob.mix, 0) > 3.0
            assert energy_after(ana.mix, 0) == 0
            # Interims came before the final; Ana gets no English captions.
            assert bob.captions("en", final=False) or bob.captions("es") == []
            assert not ana.captions("en")
            speech = [m for _, m in bob.messages if m.get("type") == "speech"]
            assert [m["state"] for m in speech][:2] == ["start", "stop"]
            participants = [m for _, m in bob.messages if m.get("type") == "participants"]
            assert {p["name"] for p in participants[-1]["participants"]} == {"Ana", "Bob"}
            await ana.close()
            await bob.close()
            # The transcript endpoint returns the conversation as WebVTT and SRT.
            vtt = await asyncio.to_thread(fetch, f"{url}/api/rooms/team/transcript?lang=en"
                                          "&format=vtt")
            srt = await asyncio.to_thread(fetch, f"{url}/api/rooms/team/transcript?lang=en"
                                          "&format=srt")
            source = await asyncio.to_thread(fetch, f"{url}/api/rooms/team/transcript?lang=es"
                                             "&format=txt")
        assert vtt.startswith("WEBVTT\n\n")
        assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", vtt, re.M)
        assert "<v Ana>" in vtt and "sands" in vtt.lower()
        assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\nAna: ", srt)
        assert "Ana:" in source and "arenas" in source.lower()

    asyncio.run(main())
    store.close()


def test_listen_switches_captions_and_audio_and_leaving_frees_everything(engines):
    async def main() -> None:
        # A lead other than the default: the server's setting reaches its speakers.
        app = create_app(replace(loopback_config(), asr_lead_seconds=7.5), engines=engines)
        async with running_server(app) as url:
            baseline_tasks = len(asyncio.all_tasks())
            state = app.state.interpres
            es = voice("es_leopard")
            gap = np.zeros(48000 * 3, np.int16)
            ana = Client(url, "switch", "Ana", "es", "es",
                         mic=ClipTrack(np.concatenate([es, gap, es]), 1.0))
            bob = Client(url, "switch", "Bob", "en", "fr")
            await bob.join()
            await ana.join()
            await bob.wait_for(final_caption("fr"), timeout=30)
            bob.send({"type": "listen", "lang": "en"})
            switched = time.monotonic()
            await bob.wait_for(final_caption("en"), timeout=40)
            after = [m for at, m in bob.messages if at > switched + 0.5
                     and m.get("type") == "caption"]
            assert after and {m["lang"] for m in after} == {"en"}
            en_at = bob.first(final_caption("en"))
            await asyncio.sleep(3)
            assert energy_after(bob.interpretation, en_at) > 0.5
            room = state.rooms.rooms["switch"]
            assert room.participants[bob.participant].listen == "en"
            assert room.participants[ana.participant].pipeline.recognizer.options \
                .lead_seconds == 7.5
            assert len(room.participants) == 2
            await ana.close()
            await bob.close()
            # The server notices both peers are gone and releases everything.
            deadline = time.monotonic() + 15
            while "switch" in state.rooms.rooms and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert "switch" not in state.rooms.rooms
            await asyncio.sleep(0.5)
            assert len(asyncio.all_tasks()) <= baseline_tasks + 1

    asyncio.run(main())


def test_bad_offers_are_refused_cleanly(engines):
    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            cases = [
                ({"type": "offer", "sdp": "v=0\r\n", "listen": "en"}, "invalid SDP"),
                ({"type": "offer", "sdp": "garbage", "listen": "en"}, "invalid SDP"),
                ({"type": "answer", "sdp": "v=0", "listen": "en"}, "type must be"),
                ({"type": "offer", "sdp": "v=0", "listen": "xx"}, "listen must be"),
                ([1, 2], "JSON object"),
            ]
            for body, message in cases:
                status, answer = await asyncio.to_thread(
                    post_json, f"{url}/api/rooms/r1/offer", body)
                assert status == 400 and message in answer["error"], (body, answer)
            status, answer = await asyncio.to_thread(
                post_json, f"{url}/api/rooms/bad%20name/offer", cases[0][0])
            assert status == 400
            assert app.state.interpres.rooms.rooms == {}

    asyncio.run(main())
