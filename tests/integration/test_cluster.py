"""Rooms on a real Ray cluster: a head and a second node (separate `ray start`s with their own
`interpres_room` resource), a real Janus in a network namespace, `interpres serve --cluster`
as a user runs it. Two Janus rooms' bots land on different nodes, both rooms' recognition
goes through the Serve deployment, and when the node holding one bot is lost, Ray restarts
that bot on the other node and the room's captions resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bench.ray_local import free_port, local_cluster
from tests.janus_net import API_SECRET, HOST_IP, Janus
from tests.janus_peer import Listener, Participant
from tests.rtc_client import voice

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# Captions come back after a lost node, well before Janus drops the old feed (60 s): not a
# speed target. On this 2-core machine the restarted bot's loading of voices and pairs
# beside the rest made it 6-17 s (16.8 s failed a 15 s bound once in a full run).
RESUME_WITHIN = 30.0


def looped(prefix: str, times: int = 12, pause: float = 1.5) -> np.ndarray:
    """A speaker who goes on talking: the clip again and again with pauses."""
    clip = voice(prefix)
    return np.concatenate([np.concatenate([clip, np.zeros(int(pause * 48000), np.int16)])
                           for _ in range(times)])


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=150) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read() or b"{}")
    except OSError:
        return 0, {}


async def ask(url: str, room: int, lang: str, pin: str | None = None) -> dict:
    """As a page does; while the server is still joining the cluster it answers 503."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = {"lang": lang, **({"pin": pin} if pin else {})}
        status, answer = await asyncio.to_thread(
            http, "POST", f"{url}/api/janus/rooms/{room}/interpreter", body)
        if status == 200:
            return answer
        if status not in (0, 503) or "not usable" in answer.get("error", ""):
            raise AssertionError(f"room {room}: {status} {answer}")
        await asyncio.sleep(1)
    raise AssertionError(f"room {room}: the server never put the interpreter in")


async def bot_status(url: str, room: int) -> dict:
    status, answer = await asyncio.to_thread(
        http, "GET", f"{url}/api/janus/rooms/{room}/interpreter")
    assert status == 200, answer
    return answer


async def first_caption(listener: Listener, lang: str, since: float, timeout: float) -> float:
    """Seconds from `since` to the first caption (interim or final) in `lang` after it."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        for message in listener.messages:
            if (message.get("type") == "caption" and message["lang"] == lang
                    and message["received_at"] >= since and message.get("text")):
                return message["received_at"] - since
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {lang} caption within {timeout} s")


async def open_page(playwright, url: str, janus: Janus, room: int, pin: str | None,
                    listen: str, silence: Path, errors: list[str]):
    """A Chromium page in the Janus room (fake camera off, a silent microphone)."""
    from tests.e2e.test_browser import launch_page

    browser, page = await launch_page(playwright, silence, (1280, 800), errors)
    await page.goto(f"{url}/janus?room={room}&janus={janus.url}&apisecret={API_SECRET}")
    await page.fill("#name", "Dana")
    if pin:
        await page.fill("#pin", pin)
    await page.wait_for_function("document.querySelectorAll('#listen option').length > 1")
    await page.select_option("#listen", listen)
    await page.uncheck("#camera-on")
    await page.click("#join")
    await page.wait_for_selector("#status[data-state=connected]", timeout=30000)
    return browser, page


def test_rooms_on_two_nodes_and_a_lost_node(janus: Janus, tmp_path: Path) -> None:
    config = tmp_path / "interpres.toml"
    config.write_text(f"""
[janus]
url = "{janus.url}"
api_secret = "{API_SECRET}"
leave_after = 5

[cluster]
asr_max_replicas = 2
asr_target_requests = 0.5
""")
    cluster_started = time.monotonic()
    with local_cluster(tmp_path, worker_resources={"interpres_room": 1},
                       head_resources={"interpres_room": 2}) as cluster:
        cluster_seconds = time.monotonic() - cluster_started
        port = free_port()
        env = {**os.environ, "INTERPRES_CONFIG": str(config), "INTERPRES_TRANSCRIPTS": "off",
               "INTERPRES_ICE_ADDRESSES": HOST_IP, "RAY_USAGE_STATS_ENABLED": "0"}
        server_log = tmp_path / "server.log"
        with server_log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(port),
                 "--cluster", cluster.address], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(scenario(url, janus, cluster, cluster_seconds, tmp_path))
        except BaseException:
            print(server_log.read_text()[-6000:])
            raise
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
            if server.poll() is None:
                server.kill()


async def scenario(url: str, janus: Janus, cluster, cluster_seconds: float,
                   tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from bot.audio_io import write_wav

    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(48000 * 2, np.int16), 48000)
    async with async_playwright() as playwright:
        await people_and_a_lost_node(url, janus, cluster, cluster_seconds, playwright, silence)


async def people_and_a_lost_node(url: str, janus: Janus, cluster, cluster_seconds: float,
                                 playwright, silence: Path) -> None:
    ana = Participant(janus.url, 1234, "Ana", looped("en_leopard"), delay=3.0)
    bruno = Participant(janus.url, 5678, "Bruno", looped("es_leopard"), delay=3.0,
                        pin="4321")
    french = Listener(janus.url, 1234, "Interpreter · Français")
    english = Listener(janus.url, 5678, "Interpreter · English", pin="4321")
    listeners = [french, english]
    browsers: list = []
    try:
        await ana.publish()
        await bruno.publish()
        asked = time.monotonic()
        first = await ask(url, 1234, "fr")
        second = await ask(url, 5678, "en", pin="4321")
        print(f"cluster of 2 nodes up in {cluster_seconds:.1f} s; both bots in their rooms "
              f"{time.monotonic() - asked:.1f} s after the first request (the server joins "
              "the cluster and deploys recognition first)")
        assert first["started"] and second["started"]
        assert first["node"] != second["node"], (first, second)  # one bot per node
        await french.subscribe()
        await english.subscribe()
        since = time.monotonic()
        print(f"first captions: fr {await first_caption(french, 'fr', since, 40):.1f} s, "
              f"en {await first_caption(english, 'en', since, 40):.1f} s after subscribing")
        # Both rooms' recognition went through the Serve deployment (the server's view of
        # a bot is refreshed every 2 s).
        statuses: dict[int, dict] = {}
        deadline = time.monotonic() + 15
        for room in (1234, 5678):
            while not ((status := await bot_status(url, room))["recognition"] or {}).get(
                    "served"):
                assert time.monotonic() < deadline, (room, status)
                await asyncio.sleep(0.5)
            statuses[room] = status
        # Two rooms talking at once: autoscaling (target 0.5 requests per replica) adds a
        # second recognition replica.
        scaled_after = time.monotonic() - since
        while (await bot_status(url, 1234))["recognition_replicas"] < 2:
            assert time.monotonic() - since < 60, "no second recognition replica in 60 s"
            await asyncio.sleep(0.5)
        scaled_after = time.monotonic() - since
        print(f"second recognition replica running {scaled_after:.1f} s after both rooms "
              "had listeners")
        # Both replicas serve the rooms. Checked before the loss: a bot restarted after it
        # reports only the replicas it used since, and the surviving bot may never have used
        # the lost node's replica (Serve prefers a replica on the caller's node), which made
        # a check after the loss fail by chance.
        served: set[str] = set()
        deadline = time.monotonic() + 30
        while len(served) < 2:
            for room in (1234, 5678):
                served |= set((await bot_status(url, room))["recognition"]["replicas"])
            if len(served) < 2:
                assert time.monotonic() < deadline, f"one replica served both rooms: {served}"
                await asyncio.sleep(0.5)
        lost_room = 5678 if not statuses[5678]["on_head"] else 1234
        assert not statuses[lost_room]["on_head"]
        listener = english if lost_room == 5678 else french
        lang = "en" if lost_room == 5678 else "fr"
        other = french if listener is english else english
        # A person's page in that room too: the reference client must follow the restart.
        errors: list[str] = []
        browser, page = await open_page(playwright, url, janus, lost_room, listener.pin,
                                        lang, silence, errors)
        browsers.append(browser)
        page_captions = page.locator(f"#captions .caption[data-lang={lang}]")
        await page_captions.first.wait_for(timeout=40000)

        # The worker node dies with the bot on it.
        shown_before = await page_captions.count()
        # Watched from the loss on: a toast stays 6 s, and may come and go before the
        # Python listener below has its caption.
        notice = asyncio.ensure_future(page.locator(
            "#toasts .toast", has_text="interpreter restarted").wait_for(timeout=40000))
        noticed: list[float] = []
        notice.add_done_callback(lambda _: noticed.append(time.monotonic()))
        cluster.nodes[1].lose()
        lost_at, lost_wall = time.monotonic(), time.time()
        while True:
            status = await bot_status(url, lost_room)
            if status["restarts"] >= 1:
                break
            assert time.monotonic() - lost_at < 60, status
            await asyncio.sleep(0.5)
        assert status["on_head"], status
        back_after = time.monotonic() - lost_at
        print("after the loss: " + ", ".join(f"{step} {at - lost_wall:.1f} s" for step, at
                                             in status["timeline"].items()))
        # The page takes the interpreter's new feed, as after a Janus restart.
        await listener.close()
        fresh = Listener(janus.url, lost_room, listener.display, pin=listener.pin,
                         exclude={listener.feed})
        listeners.append(fresh)
        await fresh.subscribe()
        resumed = await first_caption(fresh, lang, lost_at, 60)
        print(f"node lost: bot restarted on the head {back_after:.1f} s later; {lang} "
              f"captions resumed {resumed:.1f} s after the loss")
        assert resumed <= RESUME_WITHIN, resumed
        # The page said so, and shows captions again.
        await notice
        noticed_after = noticed[0] - lost_at
        deadline = time.monotonic() + 30
        while await page_captions.count() <= shown_before:
            assert time.monotonic() < deadline, "no caption on the page after the restart"
            await asyncio.sleep(0.3)
        print(f"the page showed the restart notice {noticed_after:.1f} s and a new caption "
              f"{time.monotonic() - lost_at:.1f} s after the loss")
        assert not errors, errors
        # The other room went on all along.
        await first_caption(other, "fr" if other is french else "en", lost_at, 30)
        print(f"recognition replicas that served the rooms before the loss: {len(served)}")
        # The bots' finals reach the server's transcripts, from both nodes.
        for room, name, lang in ((1234, "Ana", "fr"), (5678, "Bruno", "en")):
            text = await asyncio.to_thread(
                lambda room=room, lang=lang: urllib.request.urlopen(
                    f"{url}/api/janus/rooms/{room}/transcript?lang={lang}&format=txt",
                    timeout=10).read().decode())
            assert f"{name}: " in text, (room, text[:500])
    finally:
        for browser in browsers:
            with contextlib.suppress(Exception):
                await browser.close()
        for peer in (*listeners, ana, bruno):
            with contextlib.suppress(Exception):
                await peer.close()
