"""A video meeting on a real Janus with three real Chromium pages (fake camera and
microphone): Ana speaks Spanish and reads and hears Portuguese, Bob English, Carla joins
late in French. Nobody runs a command: the pages ask the server, which puts its interpreter
in the room, and takes it out once everybody has left. Screenshots in out/screenshots/."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.clips import clip
from bot.audio_io import write_wav
from bot.server import create_app
from tests.conftest import loopback_config
from tests.e2e.test_browser import SHOTS, launch_page
from tests.janus_net import API_SECRET, HOST_IP, Janus
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
ROOM = 1234
LEAVE_AFTER = 5.0

# Statistics of what a page receives, through the page's own objects.
MEDIA_STATS = """async () => {
  const c = window.interpres.connection;
  const stats = async (handle) => {
    const pc = handle && handle.webrtcStuff && handle.webrtcStuff.pc;
    const out = { frames: 0, energy: 0 };
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "video") out.frames += s.framesDecoded || 0;
      if (s.kind === "audio") out.energy += s.totalAudioEnergy || 0;
    });
    return out;
  };
  const people = await stats(c && c.subscriber);
  const interpreter = await stats(c && c.interpreter);
  const widths = {};
  for (const tile of document.querySelectorAll("#video-grid .tile")) {
    widths[tile.dataset.person] = tile.querySelector("video").videoWidth;
  }
  return { frames: people.frames, interpretation: interpreter.energy, widths };
}"""


async def join(page, url: str, janus: Janus, name: str, listen: str,
               speak: str = "auto", camera: bool = True) -> float:
    """Fill the landing form of /janus and join; returns when the page asked for `listen`."""
    await page.goto(f"{url}/janus?room={ROOM}&video=small&janus={janus.url}"
                    f"&apisecret={API_SECRET}")
    await page.fill("#name", name)
    await page.wait_for_function("document.querySelectorAll('#listen option').length > 1")
    await page.select_option("#listen", listen)
    await page.select_option("#speak", speak)
    if camera:
        await page.wait_for_selector("#camera-preview:not([hidden])", timeout=10000)
    else:
        await page.uncheck("#camera-on")
    asked = time.monotonic()
    await page.click("#join")
    await page.wait_for_selector("#room-view:not([hidden])", timeout=30000)
    await page.wait_for_selector("#status[data-state=connected]", timeout=20000)
    return asked


async def tile_of(page, name: str) -> str:
    """The person id of `name`'s tile on `page`."""
    handle = page.locator("#video-grid .tile", has_text=name).first
    await handle.wait_for(timeout=20000)
    return await handle.get_attribute("data-person")


async def sees_video(page, person: str, seconds: float = 30) -> tuple[int, int]:
    """Until `person`'s tile plays video (videoWidth > 0) and frames keep being decoded."""
    deadline = time.monotonic() + seconds
    while True:
        first = await page.evaluate(MEDIA_STATS)
        if first["widths"].get(person, 0) > 0 and first["frames"] > 0:
            await asyncio.sleep(2)
            second = await page.evaluate(MEDIA_STATS)
            if second["frames"] > first["frames"]:
                return first["widths"][person], second["frames"] - first["frames"]
        assert time.monotonic() < deadline, f"no video of {person}: {first}"
        await asyncio.sleep(0.5)


async def caption_on_tile(page, person: str, lang: str, seconds: float) -> str:
    """The tile of `person` shows a caption, and the captions panel a final in `lang`."""
    await page.locator(f"#captions .caption[data-final=true][data-lang={lang}]").first.wait_for(
        timeout=seconds * 1000)
    tile = page.locator(f"#video-grid .tile[data-person='{person}'] .tile-caption")
    deadline = time.monotonic() + seconds
    while not (text := (await tile.inner_text()).strip()):
        assert time.monotonic() < deadline, f"no caption on {person}'s tile"
        await asyncio.sleep(0.3)
    return text


async def interpretation_energy(page, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    energy = 0.0
    while energy <= 0.001 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        energy = (await page.evaluate(MEDIA_STATS))["interpretation"]
    return energy


def test_three_people_hold_a_video_meeting_with_the_interpreter(janus: Janus, engines,
                                                                 tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 2, np.int16), 48000)
    spanish = clip("es_leopard").path
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The app restricts ICE addresses process-wide: keep the bot's on the veth to Janus.
    config = replace(loopback_config(), ice_addresses=(HOST_IP,), janus={
        "url": janus.url, "api_secret": API_SECRET, "leave_after": LEAVE_AFTER})

    async def main() -> dict:
        figures: dict = {}
        app = create_app(config, engines=engines)
        bots = None
        async with running_server(app) as url, async_playwright() as playwright:
            bots = app.state.interpres.janus_bots
            browsers, pages = [], {}
            errors: list[str] = []
            for name, audio, size in [("Ana", spanish, (390, 844)), ("Bob", silence, (1280, 800)),
                                      ("Carla", silence, (390, 844))]:
                browser, pages[name] = await launch_page(playwright, audio, size, errors)
                browsers.append(browser)
            ana, bob, carla = pages["Ana"], pages["Bob"], pages["Carla"]
            assert not bots.bots, "no interpreter before anyone asks"
            asked = await join(ana, url, janus, "Ana", "pt", speak="es")
            # The room had no interpreter: Ana's page asked for one. Her fake microphone
            # speaks from the start (Chromium loops the file).
            await ana.locator("#captions .caption").first.wait_for(timeout=30000)
            figures["first_caption_without_bot_s"] = round(time.monotonic() - asked, 1)
            asked = await join(bob, url, janus, "Bob", "en")
            ana_on_bob = await tile_of(bob, "Ana")
            english = await caption_on_tile(bob, ana_on_bob, "en", 60)
            figures["first_english_final_s"] = round(time.monotonic() - asked, 1)
            figures["english_energy"] = await interpretation_energy(bob, 30)
            figures["english_on_tile"] = english
            # Carla comes late, reads French, and joins with her camera off: the others see
            # her initials until she turns it on (a video sender added, renegotiated).
            asked = await join(carla, url, janus, "Carla", "fr", camera=False)
            carla_id = await tile_of(bob, "Carla")
            carla_on_bob = bob.locator(f"#video-grid .tile[data-person='{carla_id}']")
            await carla_on_bob.locator(".tile-initials", has_text="CA").wait_for(timeout=10000)
            assert await carla_on_bob.evaluate("(el) => el.classList.contains('camera-off')")
            await carla.click("#camera")
            ana_on_carla = await tile_of(carla, "Ana")
            french = await caption_on_tile(carla, ana_on_carla, "fr", 60)
            figures["first_french_final_s"] = round(time.monotonic() - asked, 1)
            figures["french_energy"] = await interpretation_energy(carla, 30)
            # Everyone sees everyone else's camera.
            for viewer, page in pages.items():
                for other in pages:
                    if other != viewer:
                        figures[f"{viewer}_sees_{other}"] = await sees_video(
                            page, await tile_of(page, other))
            # Ana reads (and hears) her own words in Portuguese, under her own tile.
            portuguese = await caption_on_tile(ana, await tile_of(ana, "Ana"), "pt", 30)
            figures["portuguese_energy"] = await interpretation_energy(ana, 30)
            # The interpreter is nobody's tile and not in the people list.
            for page in pages.values():
                people = " ".join(await page.locator("#participants li").all_inner_texts())
                tiles = " ".join(await page.locator("#video-grid .tile-name").all_inner_texts())
                assert "Interpre" not in people + tiles, people + tiles
            # Bob also shows the original words (his settings drawer), and downloads the
            # room's transcript.
            await bob.click("#toggle-panel")
            await bob.check("#show-original")
            original = bob.locator("#captions .caption-original:not([hidden])").first
            await original.wait_for(timeout=30000)
            figures["original_on_bob"] = await original.inner_text()
            await bob.click("#toggle-panel")
            transcript = await bob.evaluate(
                "async () => (await fetch(document.getElementById('download-txt').href)).text()")
            assert "Ana: " in transcript, transcript
            bot_room = bots.bots[ROOM].room
            assert bot_room.declared.get(int((await tile_of(bob, "Ana"))[1:])) == "es"
            bob_finals = await bob.locator("#captions .caption[data-lang=en]").all_inner_texts()
            carla_finals = await carla.locator(
                "#captions .caption[data-lang=fr]").all_inner_texts()
            await bob.screenshot(path=str(SHOTS / "meeting-bob-1280x800.png"))
            await carla.screenshot(path=str(SHOTS / "meeting-carla-390x844.png"))
            await ana.screenshot(path=str(SHOTS / "meeting-ana-390x844.png"))
            figures["bot"] = bots.status()
            # Carla turns her camera off: the others see her initials; on again: her video.
            tile = await carla_on_bob.element_handle()
            await carla.click("#camera")
            await bob.wait_for_function("(el) => el.classList.contains('camera-off')",
                                        arg=tile, timeout=10000)
            figures["initials_shown"] = await carla_on_bob.locator(".tile-initials").inner_text()
            await carla.click("#camera")
            await bob.wait_for_function("(el) => !el.classList.contains('camera-off')",
                                        arg=tile, timeout=15000)
            # Bob folds the caption panel away (the tiles keep theirs), and back.
            await bob.click("#toggle-captions")
            assert not await bob.locator("#caption-column").is_visible()
            await bob.click("#toggle-captions")
            assert await bob.locator("#caption-column").is_visible()
            # The bot idle: Ana (the only voice) leaves, Bob and Carla stay, silent, with
            # cameras on. The browsers are other processes: this one is the server, its
            # bot and Playwright's driver.
            await ana.click("#leave")
            await asyncio.sleep(3)
            cpu, wall = time.process_time(), time.monotonic()
            await asyncio.sleep(10)
            figures["server_cpu_idle_room"] = round(
                (time.process_time() - cpu) / (time.monotonic() - wall), 3)
            for page in pages.values():  # everyone clicks Leave
                if await page.locator("#leave").is_visible():
                    await page.click("#leave")
                await page.wait_for_selector("#landing-view:not([hidden])")
            left = time.monotonic()
            for browser in browsers:
                await browser.close()
            while bots.bots:
                assert time.monotonic() - left < LEAVE_AFTER + 20, "the interpreter stayed"
                await asyncio.sleep(0.2)
            figures["bot_left_after_s"] = round(time.monotonic() - left, 1)
            assert not errors, errors
        print("\n", figures, "\n", bob_finals[:2], carla_finals[:2], portuguese)
        assert "Ana" in " ".join(bob_finals) and "Ana" in " ".join(carla_finals)
        assert min(figures[f"{lang}_energy"] for lang in ("english", "french", "portuguese")) \
            > 0.001, figures
        # The tiles show the latest sentence of the clip (either of its two); the panels
        # hold them all.
        assert any(w in " ".join(bob_finals).lower() for w in ("sand", "white", "grain"))
        assert any(w in " ".join(carla_finals).lower() for w in ("sable", "blanc", "grain"))
        assert english.strip() and french.strip()
        assert figures["initials_shown"] == "CA", figures
        return figures

    asyncio.run(main())
