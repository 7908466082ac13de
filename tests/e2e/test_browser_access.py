"""The page with join tokens, in real Chromium: a page opened while the models load waits
for them, an invitation link fills and locks the form,
a listen-only guest joins without a microphone and reads the others, a page without a token
is told why it cannot join, and a browser killed outright is released within 10 s."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import replace

import numpy as np
import pytest

from bench.clips import clip
from bot.audio_io import write_wav
from bot.auth import TokenAuthority
from bot.server import create_app
from tests.conftest import loopback_config
from tests.e2e.test_browser import CHROMIUM, FLAGS, SHOTS
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
SECRET = b"browser test secret, long enough for HS256 signatures"


def kill_browser(marker: str) -> None:
    """SIGKILL every Chromium process started with `marker` on its command line."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    for pid in found.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_invitations_listen_only_and_a_killed_browser(engines, tmp_path):
    from playwright.async_api import async_playwright

    authority = TokenAuthority(SECRET)
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 2, np.int16), 48000)
    spanish = tmp_path / "ana-speaks.wav"  # a unique path: it names Ana's browser processes
    shutil.copy(clip("es_leopard").path, spanish)
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        app = create_app(replace(loopback_config(), token_secret=SECRET), engines=engines)
        async with running_server(app) as url, async_playwright() as playwright:
            launch = playwright.chromium.launch
            bob_browser = await launch(executable_path=CHROMIUM, args=[
                *FLAGS, f"--use-file-for-fake-audio-capture={silence}"])
            ana_browser = await launch(executable_path=CHROMIUM, args=[
                *FLAGS, f"--use-file-for-fake-audio-capture={spanish}"])
            bob = await (await bob_browser.new_context(viewport={"width": 1280,
                                                                 "height": 800})).new_page()
            errors: list[str] = []
            bob.on("pageerror", lambda error: errors.append(str(error)))

            # A page opened while the server loads its models (as after a restart) says so,
            # keeps Join off, and fills itself in once the models are ready.
            ready = app.state.interpres.ready
            ready.clear()
            stranger = await (await bob_browser.new_context()).new_page()
            await stranger.goto(f"{url}/?room=board")
            await stranger.locator("#landing-status").filter(
                has_text="loading its models").wait_for(timeout=10000)
            assert await stranger.is_disabled("#join")
            assert await stranger.is_hidden("#landing-error")
            ready.set()
            await stranger.wait_for_function(
                "document.querySelectorAll('#listen option').length > 1", timeout=15000)
            assert await stranger.is_hidden("#landing-status")
            assert await stranger.is_enabled("#join")

            # Without a token the page says what to do.
            await stranger.fill("#name", "Stranger")
            await stranger.click("#join")
            await stranger.locator("#landing-error").filter(
                has_text="join token is required").wait_for(timeout=10000)

            # Bob's invitation: listen-only.
            token = authority.mint("board", "Bob", listen_only=True)
            await bob.goto(f"{url}/?room=other#token={token}")
            assert await bob.input_value("#room") == "board"
            assert await bob.input_value("#name") == "Bob"
            assert await bob.eval_on_selector("#name", "e => e.readOnly")
            assert await bob.is_hidden("#mic-test")
            await bob.wait_for_function("document.querySelectorAll('#listen option').length > 1")
            await bob.select_option("#listen", "en")
            await bob.click("#join")
            await bob.wait_for_selector("#status[data-state=connected]", timeout=15000)
            assert await bob.is_hidden("#mute")
            await bob.locator("#privacy-notice").filter(
                has_text="transcribed and translated").wait_for(timeout=5000)

            ana = await (await ana_browser.new_context()).new_page()
            await ana.goto(f"{url}/#token={authority.mint('board', 'Ana')}")
            await ana.wait_for_function("document.querySelectorAll('#listen option').length > 1")
            await ana.select_option("#speak", "es")
            await ana.select_option("#listen", "es")
            await ana.click("#join")
            await ana.wait_for_selector("#status[data-state=connected]", timeout=15000)
            # Often the suite's second test (cold caches), and the opening words are
            # misheard in interims ("La harina" for "Las arenas") until the final corrects
            # them: wait for the final, as generously as test_browser does.
            final = bob.locator("#captions .caption[data-final=true][data-lang=en]")
            await final.first.wait_for(timeout=30000)
            english = " ".join(await final.all_inner_texts())
            assert re.search(r"sands|whitish|grain", english, re.I), english
            people = " ".join(await bob.locator("#participants li").all_inner_texts())
            assert "Listening only" in people and "Ana" in people, people
            await bob.screenshot(path=str(SHOTS / "bob-listen-only-1280x800.png"))

            # Ana's browser dies without a goodbye: the room lets her go within 10 s.
            room = app.state.interpres.rooms.rooms["board"]
            assert len(room.participants) == 2
            killed = time.monotonic()
            kill_browser(str(spanish))
            while len(room.participants) == 2:
                assert time.monotonic() - killed < 10, "killed browser not released in 10 s"
                await asyncio.sleep(0.2)
            released = time.monotonic() - killed
            await bob.locator("#participants li").filter(has_text="Ana").wait_for(
                state="detached", timeout=5000)
            await bob_browser.close()
        print(f"killed browser released after {released:.1f} s")
        assert not errors, errors

    asyncio.run(main())
