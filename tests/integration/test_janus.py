"""The bot as a guest in a real Janus VideoRoom (Debian's janus 1.1, in a network namespace)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.janus.api import JanusError
from bot.janus.room import JanusOptions, JanusRoom
from bot.pipeline.engines import Engines
from bot.rtc.ice import restrict_host_addresses
from tests.janus_net import API_SECRET, HOST_IP, Janus, janus_namespace
from tests.janus_peer import Listener, Participant
from tests.rtc_client import energy_after, voice

pytestmark = pytest.mark.slow
ROOM = 1234


@pytest.fixture(scope="module")
def janus(tmp_path_factory) -> Iterator[Janus]:
    restrict_host_addresses([HOST_IP])  # our peers offer only the veth address
    try:
        with janus_namespace(tmp_path_factory.mktemp("janus")) as running:
            yield running
    finally:
        restrict_host_addresses(None)


def options(janus: Janus, **overrides) -> JanusOptions:
    return JanusOptions(**{"url": janus.url, "room": ROOM, "api_secret": API_SECRET,
                           "targets": ("fr",), "keepalive_every": 5.0, **overrides})


async def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def test_a_publisher_is_interpreted_into_french(janus: Janus, engines: Engines) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        room = JanusRoom(options(janus), engines)
        bot = asyncio.create_task(room.run(stop))
        ana = Participant(janus.url, ROOM, "Ana", voice("en_leopard"), delay=2.0)
        listener = Listener(janus.url, ROOM, "Interpreter · Français")
        try:
            join_time = await wait_for(room.joined.is_set, 20, "the bot joining")
            await listener.subscribe()
            await ana.publish()
            published = time.monotonic()
            await wait_for(lambda: any(c["lang"] == "fr" for c in listener.captions()), 40,
                           "a final French caption")
            first = min(m["emitted_at"] for m in listener.messages if "emitted_at" in m) \
                if any("emitted_at" in m for m in listener.messages) else None
            french = [c for c in listener.captions() if c["lang"] == "fr"]
            assert french[0]["speaker"]["name"] == "Ana"
            assert "Quilter" in " ".join(c["text"] for c in french)
            await wait_for(lambda: energy_after(listener.audio, published) > 0.5, 30,
                           "French interpretation audio")
            print(f"\njoin {join_time:.2f} s; captions: {len(listener.messages)} messages; "
                  f"first {first}")
        finally:
            stop.set()
            await bot
            await ana.close()
            await listener.close()

    asyncio.run(main())


@pytest.mark.parametrize(("overrides", "message"), [
    ({"room": 4242}, "no such room"),
    ({"room": 5678, "pin": "0000"}, "wrong PIN"),
    ({"api_secret": None}, "unauthorized: wrong or missing API secret"),
])
def test_mistakes_stop_the_bot_with_the_reason(janus: Janus, engines: Engines,
                                               overrides: dict, message: str) -> None:
    async def main() -> None:
        room = JanusRoom(options(janus, **overrides), engines)
        with pytest.raises(JanusError, match=message):
            await asyncio.wait_for(room.run(), 20)

    asyncio.run(main())


def test_the_bot_rejoins_after_janus_restarts(janus: Janus, engines: Engines,
                                              tmp_path: Path) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        room = JanusRoom(options(janus), engines)
        bot = asyncio.create_task(room.run(stop))
        try:
            await wait_for(room.joined.is_set, 20, "the first join")
            await asyncio.to_thread(janus.restart)
            restarted = time.monotonic()
            await wait_for(lambda: room.joins >= 2 and room.joined.is_set(), 30, "rejoining")
            took = time.monotonic() - restarted
            print(f"\nrejoined {took:.1f} s after Janus restarted")
            assert took < 15
        finally:
            stop.set()
            await bot

    asyncio.run(main())
