"""Two real Chromium pages in one room: Ana speaks Spanish, Bob reads and hears English.

Debian's /usr/bin/chromium driven by Playwright (never `playwright install`); each browser's
fake microphone plays a WAV file. Screenshots land in out/screenshots/ to look at.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from bench.clips import clip
from bot.audio_io import write_wav
from bot.server import create_app
from tests.conftest import loopback_config
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
FLAGS = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--autoplay-policy=no-user-gesture-required"]

INTERPRETATION_ENERGY = """async () => {
  const transceiver = window.interpres.pc.getTransceivers()[1];
  const stats = await transceiver.receiver.getStats();
  let energy = 0;
  stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio")
    energy = s.totalAudioEnergy || 0; });
  return energy;
}"""


def audio_energy_script(pc: str) -> str:
    """JavaScript: the total audio energy received so far on the peer connection `pc` (an
    expression), the first inbound audio stream's, or 0."""
    return f"""async () => {{
  const pc = {pc};
  if (!pc) return 0;
  let energy = 0;
  (await pc.getStats()).forEach((s) => {{ if (s.type === "inbound-rtp" && s.kind === "audio")
    energy = s.totalAudioEnergy || 0; }});
  return energy;
}}"""


async def wait_for_energy(page, script: str, seconds: float) -> float:
    """Poll the page until some speech energy arrived (> 0.001) or time runs out."""
    energy = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and energy <= 0.001:
        await asyncio.sleep(0.5)
        energy = await page.evaluate(script)
    return energy


async def launch_page(playwright, audio: Path, size: tuple[int, int], errors: list[str]):
    """A Chromium whose fake microphone plays `audio` (and whose fake camera shows a test
    pattern), with one page of `size`; page errors are collected in `errors`."""
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[
        *FLAGS, f"--use-file-for-fake-audio-capture={audio}"])
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return browser, page


async def join(page, url: str, name: str, speak: str, listen: str) -> None:
    await page.goto(f"{url}/?room=browser-test")
    await page.fill("#name", name)
    await page.wait_for_function("document.querySelectorAll('#listen option').length > 1")
    await page.select_option("#speak", speak)
    await page.select_option("#listen", listen)
    await page.click("#join")
    await page.wait_for_selector("#room-view:not([hidden])")
    await page.wait_for_selector("#status[data-state=connected]", timeout=15000)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed "
                    "(scripts/setup.sh installs it)")
def test_two_browsers_spanish_to_english(engines, tmp_path):
    from playwright.async_api import async_playwright

    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 2, np.int16), 48000)
    spanish = clip("es_leopard").path
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url, async_playwright() as playwright:
            errors: list[str] = []
            bob_browser, bob = await launch_page(playwright, silence, (1280, 800), errors)
            ana_browser, ana = await launch_page(playwright, spanish, (390, 844), errors)
            await join(bob, url, "Bob", "en", "en")
            await join(ana, url, "Ana", "es", "es")
            started = time.monotonic()
            english = bob.locator("#captions .caption[data-lang=en]").filter(
                has_text="sands")
            # Generous: this is often the suite's first test (cold caches, a busy machine);
            # latency is bench.room's to measure, the caption's arrival is this test's.
            await english.first.wait_for(timeout=30000)
            caption_after = time.monotonic() - started
            # The interpretation track carries speech energy after the caption.
            energy = await wait_for_energy(bob, INTERPRETATION_ENERGY, 15)
            await bob.locator("#captions .caption[data-final=true][data-lang=en]").first \
                .wait_for(timeout=15000)
            await bob.screenshot(path=str(SHOTS / "bob-1280x800.png"))
            await ana.screenshot(path=str(SHOTS / "ana-390x844.png"))
            texts = await bob.locator("#captions .caption").all_inner_texts()

            participants = await bob.locator("#participants li").all_inner_texts()
            await ana_browser.close()
            await bob_browser.close()
        print(f"first English caption with 'sands' {caption_after:.1f} s after Ana joined; "
              f"interpretation energy {energy:.4f}")
        assert energy > 0.001, "no speech energy on Bob's interpretation track"
        assert any("sands" in t.lower() for t in texts), texts
        assert any("Ana" in p for p in participants) and any("Bob" in p for p in participants)
        assert not errors, errors

    asyncio.run(main())
