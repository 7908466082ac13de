"""The phrase list and profanity settings in the built-in room (real app, aiortc peers,
real models): the HTTP API and its refusals, live use, transcripts, a restart."""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

import pytest

from bench.material import Voices
from bot.auth import TokenAuthority
from bot.phrases import MAX_PHRASES, parse_phrases
from bot.server import create_app
from bot.store import TranscriptStore
from bot.tts.resample import to_int16_48k
from tests.conftest import loopback_config
from tests.rtc_client import Client, ClipTrack, energy_after, final_caption, post_json
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
SECRET = b"a test secret that is long enough to sign tokens with HS256 and HS512"
NAME = "Karvonix"
SENTENCE = f"Oh shit, the contract for {NAME} is late again."


def get_json(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=30) as response:
        return __import__("json").loads(response.read())


def put(url: str, body, headers: dict[str, str] | None = None, raw: bytes | None = None,
        content_type: str = "application/json") -> tuple[int, dict]:
    if raw is None:
        return post_json(url, body, headers, "PUT")
    request = urllib.request.Request(url, data=raw, method="PUT",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {}
    except urllib.error.HTTPError as failure:
        return failure.code, __import__("json").loads(failure.read() or b"{}")


def test_the_api_refuses_bad_lists_and_listen_only_guests(engines):
    config = replace(loopback_config(), token_secret=SECRET,
                     phrases=parse_phrases([{"term": "Interpres"}]))
    authority = TokenAuthority(SECRET)
    speaker = authority.mint("team", "Ana")
    guest = authority.mint("team", "Guest", listen_only=True)

    async def main() -> None:
        app = create_app(config, engines=engines)
        async with running_server(app) as url:
            api = f"{url}/api/rooms/team/phrases"
            auth = {"Authorization": f"Bearer {speaker}"}
            # Every room starts with the configured list.
            listed = await asyncio.to_thread(get_json, api, speaker)
            assert listed["phrases"] == [{"term": "Interpres"}]
            cases = {
                "no token": (put, (api, [{"term": "A"}]), 401),
                "listen-only guest": (put, (api, [{"term": "A"}],
                                            {"Authorization": f"Bearer {guest}"}), 403),
                "not JSON": (put, (api, None, auth, b"term=A", "text/plain"), 415),
                "broken JSON": (put, (api, None, auth, b"[{", "application/json"), 400),
                "too large": (put, (api, None, auth, b"[" + b" " * 70_000 + b"]"), 413),
                "too many terms": (put, (api, [{"term": f"t{i}"} for i in
                                               range(MAX_PHRASES + 1)], auth), 400),
                "control characters": (put, (api, [{"term": "Kar\x00vonix"}], auth), 400),
                "not a list": (put, (api, {"term": "A"}, auth), 400),
            }
            for what, (call, args, status) in cases.items():
                got, body = await asyncio.to_thread(call, *args)
                assert got == status, (what, got, body)
                assert body.get("error"), what
            got, body = await asyncio.to_thread(put, api, [{"term": NAME, "fr": "Karvonix SA"}],
                                                auth)
            assert got == 200 and body["phrases"] == [{"term": NAME, "fr": "Karvonix SA"}]
            listed = await asyncio.to_thread(get_json, api, guest)  # guests may read it
            assert listed["phrases"] == body["phrases"]

    asyncio.run(main())


def test_phrases_live_and_profanity_per_listener(engines, tmp_path):
    store = TranscriptStore(tmp_path / "t.sqlite3")
    speech = to_int16_48k(Voices().piper(SENTENCE).audio, 16000)

    async def main() -> None:
        app = create_app(loopback_config(), engines=engines, store=store)
        async with running_server(app) as url:
            bob = Client(url, "team", "Bob", "en", "es", profanity="masked")
            eve = Client(url, "team", "Eve", "en", "es")
            ana = Client(url, "team", "Ana", "en", "en", mic=ClipTrack(speech, 4.0))
            for client in (bob, eve):
                await client.join()
            await bob.wait_for(lambda m: m.get("type") == "phrases", timeout=20)
            assert bob.phrases == []
            # Set from the API while the room is live: every page is told.
            status, _ = await bob.set_phrases([{"term": NAME}])
            assert status == 200
            await eve.wait_for(lambda m: m.get("type") == "phrases" and m["phrases"], 10)
            assert eve.phrases == [{"term": NAME}]
            await ana.join()
            masked = await bob.wait_for(final_caption("es"), timeout=40)
            raw = await eve.wait_for(final_caption("es"), timeout=10)
            assert NAME in masked["text"] and NAME in raw["text"], (masked, raw)
            assert "mierda" in raw["text"].lower(), raw
            assert "mierda" not in masked["text"].lower() and "m*****" in masked["text"].lower()
            # Both hear their interpretation (each its own clip).
            for client in (bob, eve):
                await client.wait_for(lambda m: m.get("type") == "speech"
                                      and m["state"] == "stop", timeout=20)
                assert energy_after(client.interpretation, 0) > 0.8
            # A listener can change their mind.
            bob.set_profanity("raw")
            await asyncio.sleep(0.3)
            assert app.state.interpres.rooms.rooms["team"].participants[
                bob.participant].profanity == "raw"
            for client in (ana, bob, eve):
                await client.close()
            # Downloads follow the reader's setting; the store keeps what was said.
            base = f"{url}/api/rooms/team/transcript?lang=es&format=txt"
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(base + "&profanity=masked").read().decode())
            assert NAME in text and "m*****" in text.lower() and "mierda" not in text.lower()
            text = await asyncio.to_thread(lambda: urllib.request.urlopen(base).read().decode())
            assert "mierda" in text.lower()

    asyncio.run(main())
    store.close()
    # A restart keeps the room's list (stored beside its transcripts).
    again = TranscriptStore(tmp_path / "t.sqlite3")

    async def after_restart() -> None:
        app = create_app(loopback_config(), engines=engines, store=again)
        async with running_server(app) as url:
            listed = await asyncio.to_thread(get_json, f"{url}/api/rooms/team/phrases")
            assert listed["phrases"] == [{"term": NAME}]

    asyncio.run(after_restart())
    again.close()
