"""Join tokens, origins and admission limits on the real app (uvicorn, aiortc peers)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import statistics
import time
from dataclasses import replace

import jwt
import pytest
from aiortc import RTCPeerConnection

from bot.auth import AUDIENCE, TokenAuthority
from bot.server import create_app
from tests.conftest import loopback_config
from tests.rtc_client import Client, ClipTrack, energy_after, final_caption, post_json, voice
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
SECRET = b"a test secret that is long enough to sign tokens with HS256 and HS512"


def secured(**changes):
    return replace(loopback_config(), token_secret=SECRET, **changes)


async def browser_like_offer() -> dict:
    """A real offer with the page's transceivers, so only the credentials can be wrong."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("audio", direction="recvonly")
    pc.createDataChannel("captions")
    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": "offer", "name": "Mallory",
            "speak": "auto", "listen": "en"}
    await pc.close()
    return body


def b64(data: dict) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bad_tokens(now: float) -> dict[str, tuple[str | None, int]]:
    authority = TokenAuthority(SECRET)
    claims = {"aud": AUDIENCE, "room": "a", "name": "M", "speak": True,
              "iat": int(now), "nbf": int(now), "exp": int(now) + 600}
    return {
        "missing": (None, 401),
        "expired": (authority.mint("a", "M", ttl=60, now=now - 3600), 401),
        "not yet valid": (authority.mint("a", "M", ttl=7200, now=now + 3600), 401),
        "wrong signature": (TokenAuthority(b"another secret, also long enough!!")
                            .mint("a", "M", now=now), 401),
        "alg none": (f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.", 401),
        "HS512 with the same secret": (jwt.encode(claims, SECRET, algorithm="HS512"), 401),
        "wrong audience": (jwt.encode({**claims, "aud": "other"}, SECRET, "HS256"), 401),
        "no expiry": (jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET,
                                 "HS256"), 401),
        "garbage": ("not.a.token", 401),
        "room A on room B": (authority.mint("b", "M", now=now), 403),
    }


def test_bad_tokens_are_refused_fast_and_create_no_peer_connection(engines):
    async def main() -> None:
        app = create_app(secured(joins_per_minute=1000), engines=engines)
        async with running_server(app) as url:
            body = await browser_like_offer()
            state = app.state.interpres
            timings = []
            for case, (token, expected) in bad_tokens(time.time()).items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                started = time.perf_counter()
                status, answer = await asyncio.to_thread(
                    post_json, f"{url}/api/rooms/a/offer", body, headers)
                timings.append(time.perf_counter() - started)
                assert status == expected, (case, status, answer)
                assert "token" in answer["error"], (case, answer)
                assert not state.peer_connections and not state.rooms.rooms, case
            assert state.metrics.refused == {"auth": len(timings)}
            # Round trip over loopback, refusals included: well under 20 ms each.
            print(f"token refusals: median {statistics.median(timings) * 1000:.1f} ms, "
                  f"max {max(timings) * 1000:.1f} ms over {len(timings)} cases")
            assert statistics.median(timings) < 0.02, timings

            # The transcript of a room is not readable without a token for it either.
            status, _ = await asyncio.to_thread(_get, f"{url}/api/rooms/a/transcript")
            assert status == 401

    asyncio.run(main())


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as failure:
        return failure.code, failure.read()



def test_a_token_names_its_holder_and_a_listen_only_token_sends_nothing(engines):
    authority = TokenAuthority(SECRET)

    async def main() -> None:
        app = create_app(secured(), engines=engines)
        async with running_server(app) as url:
            jfk = voice("en_whisper_jfk")[: 48000 * 4]
            bob = Client(url, "a", "ignored", "auto", "en",
                         token=authority.mint("a", "Bob"))
            quiet = Client(url, "a", "Mallory", "auto", "en", mic=ClipTrack(jfk, 0.5),
                           token=authority.mint("a", "Quinn", listen_only=True))
            await bob.join()
            await quiet.join()
            await asyncio.sleep(5.5)
            people = [m for _, m in bob.messages if m.get("type") == "participants"][-1]
            names = {p["name"]: p for p in people["participants"]}
            assert set(names) == {"Bob", "Quinn"}  # the token's names, not the form's
            assert names["Quinn"]["listen_only"] and not names["Bob"]["listen_only"]
            # Four seconds of speech from the listen-only peer: nobody hears or reads it.
            assert energy_after(bob.mix, 0.0) == 0.0
            assert not bob.captions() and not [m for _, m in bob.messages
                                                if m.get("type") == "activity"]
            # The same clip from a peer allowed to speak is heard: the check can fail.
            ana = Client(url, "a", "x", "auto", "en", mic=ClipTrack(jfk, 0.5),
                         token=authority.mint("a", "Ana"))
            await ana.join()
            await asyncio.sleep(5.5)
            assert energy_after(bob.mix, 0.0) > 2.0
            for client in (ana, quiet, bob):
                await client.close()

    asyncio.run(main())


def test_the_process_wide_peer_cap(engines):
    authority = TokenAuthority(SECRET)

    async def main() -> None:
        app = create_app(secured(max_peers=2), engines=engines)
        async with running_server(app) as url:
            clients = [Client(url, room, "x", "auto", "en", token=authority.mint(room, room))
                       for room in ("a", "b")]
            for client in clients:
                await client.join()
            body = await browser_like_offer()
            status, answer = await asyncio.to_thread(
                post_json, f"{url}/api/rooms/c/offer", body,
                {"Authorization": f"Bearer {authority.mint('c', 'M')}"})
            assert status == 503 and "full" in answer["error"], answer
            assert len(app.state.interpres.peer_connections) == 2
            for client in clients:
                await client.close()

    asyncio.run(main())


def test_origins_rates_and_caps(engines):
    authority = TokenAuthority(SECRET)

    async def main() -> None:
        config = secured(allowed_origins=("https://meet.example.org",), joins_per_minute=20,
                         max_room_size=1)
        app = create_app(config, engines=engines)
        async with running_server(app) as url:
            body = await browser_like_offer()
            token = {"Authorization": f"Bearer {authority.mint('a', 'M')}"}
            offer = f"{url}/api/rooms/a/offer"
            status, answer = await asyncio.to_thread(
                post_json, offer, body, {**token, "Origin": "https://evil.example"})
            assert status == 403 and "origin" in answer["error"]
            # The page's own origin and the allow-listed one pass the origin check (and then
            # fail on the body's media type, which is checked next).
            for origin in (url, "https://meet.example.org"):
                status, answer = await asyncio.to_thread(
                    post_json, offer, body,
                    {**token, "Origin": origin, "Content-Type": "text/plain"})
                assert status == 415, (origin, answer)
            # The room holds one participant.
            first = Client(url, "a", "x", "auto", "en", token=authority.mint("a", "One"))
            await first.join()
            status, answer = await asyncio.to_thread(post_json, offer, body, token)
            assert status == 409 and "full" in answer["error"]
            # Twenty joins a minute from one address, five at once: five were used, so
            # within a few more the bucket is empty, and the refusal says when to return.
            statuses = []
            for _ in range(4):
                statuses.append((await asyncio.to_thread(post_json, offer, body, token))[0])
            assert 429 in statuses, statuses
            state = app.state.interpres
            assert state.metrics.refused.get("rate", 0) >= 1
            assert len(state.peer_connections) == 1
            await first.close()

    asyncio.run(main())


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_logs_of_a_full_session_hold_no_transcripts_tokens_or_sdp(engines):
    """Everything logged at INFO or above, from every library, during a session with a
    token, a speaker, translation, a refused offer and the end of the room."""
    authority = TokenAuthority(SECRET)
    collect = Collect()
    collect.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    tokens = [authority.mint("a", "Ana"), authority.mint("a", "Bob")]
    seen: dict[str, str] = {}

    async def main() -> None:
        app = create_app(secured(), engines=engines)
        async with running_server(app) as url:
            ana = Client(url, "a", "Ana", "es", "es",
                         mic=ClipTrack(voice("es_leopard"), 1.0), token=tokens[0])
            bob = Client(url, "a", "Bob", "en", "en", token=tokens[1])
            await bob.join()
            await ana.join()
            caption = await bob.wait_for(final_caption("en"), timeout=40)
            seen["caption"] = caption["text"]
            seen["offer"] = ana.pc.localDescription.sdp
            seen["answer"] = ana.answer_sdp
            bad = await browser_like_offer()
            bad["sdp"] = bad["sdp"].replace("a=fingerprint", "a=fingerprint:sha-256 XX\r\na=x")
            status, _ = await asyncio.to_thread(
                post_json, f"{url}/api/rooms/a/offer", bad,
                {"Authorization": f"Bearer {tokens[0]}"})
            assert status == 400
            await ana.close()
            await bob.close()
            await asyncio.sleep(1)

    try:
        asyncio.run(main())
    finally:
        root.removeHandler(collect)
        root.setLevel(previous)
    log = "\n".join(collect.lines)
    assert "joined" in log and "left" in log  # the scan saw the session
    secrets_ = [*tokens, *(t.split(".")[2] for t in tokens)]
    for sdp in (seen["offer"], seen["answer"]):
        secrets_ += [line.split(":", 1)[1] for line in sdp.splitlines()
                     if line.startswith(("a=ice-pwd:", "a=fingerprint:"))]
    words = [w for w in seen["caption"].split() if len(w) > 4]
    assert words, seen["caption"]
    for secret in secrets_ + words + ["a=ice-pwd", "a=fingerprint", "v=0\r\n"]:
        assert secret not in log, f"{secret[:20]!r} was logged"
