"""Wall-clock endpointing in the built-in room: a speaker whose packets stop mid-utterance
(no trailing silence) still gets a final caption and interpretation audio at the listeners,
within 2 s of the last packet; one who leaves mid-utterance is finished too."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.server import create_app
from tests.conftest import best_of_two, loopback_config
from tests.rtc_client import Client, ClipTrack, final_caption, voice, wait_open
from tests.server_runner import running_server

pytestmark = pytest.mark.slow

CUT = 48000 * 6  # es_leopard cut in the middle of its sentence ("... y tiene muy")


def first_sound(received, after: float, threshold: float = 0.01) -> float | None:
    return next((r.at for r in received if r.at >= after and r.rms > threshold), None)


@pytest.mark.parametrize("after", ["nothing", "end"])
def test_final_and_voice_within_two_seconds_of_the_last_packet(engines, after):
    async def main() -> float:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            mic = ClipTrack(voice("es_leopard")[:CUT], 1.0, after=after)
            ana = Client(url, "cut", "Ana", "es", "es", mic=mic)
            bob = Client(url, "cut", "Bob", "en", "en")
            cleo = Client(url, "cut", "Cleo", "fr", "fr")
            for client in (bob, cleo, ana):
                await client.join()
            await wait_open(bob, cleo, ana)
            caption = await bob.wait_for(final_caption("en"), timeout=30)
            await cleo.wait_for(final_caption("fr"), timeout=5)
            await asyncio.sleep(3)  # the interpretation plays
            last_packet = mic.ended_at
            assert last_packet is not None
            final_en = bob.first(final_caption("en")) - last_packet
            final_fr = cleo.first(final_caption("fr")) - last_packet
            voice_en = first_sound(bob.interpretation, last_packet) - last_packet
            voice_fr = first_sound(cleo.interpretation, last_packet) - last_packet
            print(f"after={after}: final en {final_en:.2f} s, fr {final_fr:.2f} s; "
                  f"voice en {voice_en:.2f} s, fr {voice_fr:.2f} s after the last packet")
            assert "sands" in caption["text"].lower()
            for client in (ana, bob, cleo):
                await client.close()
            return max(final_en, final_fr, voice_en, voice_fr)

    assert best_of_two(lambda: asyncio.run(main())) <= 2.0


def test_a_speaker_who_leaves_mid_utterance_is_finished(engines):
    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            mic = ClipTrack(voice("es_leopard")[:CUT], 1.0, after="silence")
            ana = Client(url, "leave", "Ana", "es", "es", mic=mic)
            bob = Client(url, "leave", "Bob", "en", "en")
            await bob.join()
            await ana.join()
            await wait_open(bob, ana)
            while mic.ended_at is None:
                await asyncio.sleep(0.02)
            await ana.close()  # hangs up the moment the clip ends
            left = time.monotonic()
            caption = await bob.wait_for(final_caption("en"), timeout=15)
            await asyncio.sleep(3)
            heard = first_sound(bob.interpretation, left)
            print(f"left: final {bob.first(final_caption('en')) - left:.2f} s, "
                  f"voice {heard - left:.2f} s after hanging up")
            assert "sands" in caption["text"].lower()
            assert caption["speaker"]["name"] == "Ana"
            await bob.close()

    asyncio.run(main())


def test_a_shutdown_stops_the_last_leavers_work_before_the_store_closes(engines, caplog):
    """The last participant leaves mid-utterance (the room empties and is let go while their
    last utterance is still being finished) and the server shuts down at once: that work
    stops with the server, not afterwards against a closed transcript store."""
    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            mic = ClipTrack(voice("es_leopard")[:CUT], 0.5, after="silence")
            ana = Client(url, "alone", "Ana", "es", "es", mic=mic)
            await ana.join()
            await wait_open(ana)
            while mic.ended_at is None:
                await asyncio.sleep(0.02)
            await ana.close()
            while app.state.interpres.rooms.rooms:  # emptied: her final is being decoded
                await asyncio.sleep(0.01)
        await asyncio.sleep(4)  # what was not stopped would now write to the closed store
        assert not [t for t in asyncio.all_tasks() if "_finish_speaker" in repr(t)]

    asyncio.run(main())
    problems = [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not problems, problems
