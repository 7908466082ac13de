"""web/janus.html in two real Chromium pages on a real Janus: Ana speaks Spanish (her fake
microphone plays a clip), Bob listens in English: the bot's English captions on his page and
the English interpreter feed playing. Screenshots land in out/screenshots/."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.audio_io import write_wav
from bot.janus.room import JanusOptions, JanusRoom
from bot.server import create_app
from tests.clips import clip
from tests.conftest import loopback_config
from tests.e2e.test_browser import CHROMIUM, FLAGS, SHOTS, audio_energy_script, wait_for_energy
from tests.janus_net import API_SECRET, HOST_IP, Janus
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
ROOM = 1234

INTERPRETATION_ENERGY = audio_energy_script(
    "window.interpresJanus.interpretation && "
    "window.interpresJanus.interpretation.webrtcStuff.pc")


async def join(page, url: str, janus: Janus, name: str, listen: str) -> None:
    await page.goto(f"{url}/janus?janus={janus.url}&apisecret={API_SECRET}&room={ROOM}")
    await page.fill("#name", name)
    await page.wait_for_function("document.querySelectorAll('#listen option').length > 1")
    await page.select_option("#listen", listen)
    await page.click("#join")
    await page.wait_for_selector("#status[data-state=connected]", timeout=15000)


def test_spanish_speaker_english_listener_on_janus(janus: Janus, engines,
                                                   tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 2, np.int16), 48000)
    spanish = clip("es_leopard").path
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        stop = asyncio.Event()
        bot = JanusRoom(JanusOptions(url=janus.url, room=ROOM, api_secret=API_SECRET,
                                     targets=("en",)), engines)
        running = asyncio.create_task(bot.run(stop))
        # The app restricts ICE addresses process-wide: keep the bot's on the veth.
        app = create_app(replace(loopback_config(), ice_addresses=(HOST_IP,)), engines=engines)
        try:
            async with running_server(app) as url, async_playwright() as playwright:
                await asyncio.wait_for(bot.joined.wait(), 20)
                launch = playwright.chromium.launch
                bob_browser = await launch(executable_path=CHROMIUM, args=[
                    *FLAGS, f"--use-file-for-fake-audio-capture={silence}"])
                ana_browser = await launch(executable_path=CHROMIUM, args=[
                    *FLAGS, f"--use-file-for-fake-audio-capture={spanish}"])
                bob = await (await bob_browser.new_context(
                    viewport={"width": 1280, "height": 800})).new_page()
                ana = await (await ana_browser.new_context(
                    viewport={"width": 390, "height": 844})).new_page()
                errors: list[str] = []
                console: list[str] = []
                for page in (bob, ana):
                    page.on("pageerror", lambda error: errors.append(str(error)))
                    page.on("console", lambda message: console.append(message.text))
                await join(bob, url, janus, "Bob", "en")
                await join(ana, url, janus, "Ana", "")
                started = time.monotonic()
                english = bob.locator("#captions .caption[data-lang=en][data-final=true]")
                try:
                    await english.first.wait_for(timeout=30000)
                except Exception:
                    await bob.screenshot(path=str(SHOTS / "janus-bob-failed.png"))
                    summary = await bob.evaluate("""() => { const s = window.interpresJanus;
                      return {pubs: [...s.publishers.values()].map(p => [p.id, p.display,
                        JSON.stringify(p.streams)]), interp: !!s.interpretation,
                        feed: s.interpreterFeed, listen: s.listen, me: s.myId}; }""")
                    raise AssertionError(f"no English caption; page {summary}; bot feeds "
                                         f"{list(bot.feeds)} talkers "
                                         f"{[t.name for t in bot.talkers.values()]}; "
                                         f"console {console[-5:]}") from None
                caption_after = time.monotonic() - started
                energy = await wait_for_energy(bob, INTERPRETATION_ENERGY, 20)
                await bob.screenshot(path=str(SHOTS / "janus-bob-1280x800.png"))
                await ana.screenshot(path=str(SHOTS / "janus-ana-390x844.png"))
                texts = await bob.locator("#captions .caption").all_inner_texts()
                people = await bob.locator("#people li").all_inner_texts()
                await ana_browser.close()
                await bob_browser.close()
        finally:
            stop.set()
            await running
        print(f"\nfirst final English caption {caption_after:.1f} s after Ana joined; "
              f"interpretation energy {energy:.4f}; captions {texts[:3]}")
        assert any("Ana" in t for t in texts), texts  # the speaker's name on the caption
        assert energy > 0.001, "no speech energy on Bob's interpreter feed"
        assert "Ana" in people
        assert not errors, errors

    asyncio.run(main())
