"""bot.client on the real app: the library (tokens, typed events, switching language) and
`interpres listen` in a pseudo-terminal, as a person runs it."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.clips import clip
from bot.auth import TokenAuthority
from bot.client import (
    CaptionEvent,
    ClipTrack,
    JoinError,
    ParticipantsEvent,
    PhrasesEvent,
    RoomClient,
)
from bot.server import create_app
from tests.conftest import loopback_config
from tests.server_runner import running_server

pytestmark = pytest.mark.slow
SECRET = b"a test secret that is long enough to sign tokens with HS256 and HS512"
ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def kept_lines(screen: bytearray) -> list[str]:
    """The lines that stay on screen (finals, notices), not the live line's redraws."""
    text = screen.decode(errors="replace")
    return [ANSI.sub("", chunk.rstrip("\r").split("\r")[-1]) for chunk in text.split("\n")[:-1]]


def plain(screen: bytearray) -> str:
    """The terminal's text without colours; each redraw of the live line on its own line."""
    return ANSI.sub("", screen.decode(errors="replace").replace("\r", "\n"))


def spanish_twice() -> ClipTrack:
    once = ClipTrack.from_file(clip("es_leopard").path).samples
    return ClipTrack(np.concatenate([once, np.zeros(48000 * 3, np.int16), once]), delay=1.0)


def test_the_library_joins_with_a_token_and_yields_typed_events(engines):
    config = replace(loopback_config(), token_secret=SECRET)
    authority = TokenAuthority(SECRET)

    async def main() -> None:
        app = create_app(config, engines=engines)
        async with running_server(app) as url:
            with pytest.raises(JoinError) as refused:
                await RoomClient(url, "team", "Eve", listen="fr").join()
            assert refused.value.status == 401 and "token" in str(refused.value)
            async with RoomClient(url, "team", "Bob", listen="fr",
                                  token=authority.mint("team", "Bob")) as bob, \
                    RoomClient(url, "team", "Ana", speak="es", listen="es", mic=spanish_twice(),
                               token=authority.mint("team", "Ana")):
                seen: list = []
                async for event in bob.events():
                    seen.append(event)
                    if isinstance(event, CaptionEvent) and event.final and event.text:
                        break
                final = seen[-1]
                assert final.lang == "fr" and final.speaker_name == "Ana", final
                assert "sable" in final.text.lower(), final.text
                assert any(isinstance(e, PhrasesEvent) for e in seen)
                people = [e for e in seen if isinstance(e, ParticipantsEvent)][-1]
                assert {p.name for p in people.participants} == {"Ana", "Bob"}
                interims = [e for e in seen if isinstance(e, CaptionEvent) and not e.final]
                assert interims, "interim captions come before the final"
                # Switch to English for Ana's second sentence.
                bob.set_listen("en")
                async for event in bob.events():
                    if isinstance(event, CaptionEvent) and event.final and event.lang == "en":
                        assert "sands" in event.text.lower(), event.text
                        break
                # Heartbeats were answered all along: still in the room.
                assert len(app.state.interpres.rooms.rooms["team"].participants) == 2

    asyncio.run(main())


def test_interpres_listen_shows_a_spanish_speaker_in_french_in_a_terminal(engines):
    async def main() -> None:
        app = create_app(loopback_config(), engines=engines)
        async with running_server(app) as url:
            leader, follower = pty.openpty()
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "listen", url, "--room", "team", "--lang", "fr",
                 "--name", "Term"], stdin=follower, stdout=follower, stderr=follower,
                cwd=ROOT, env={**os.environ, "COLUMNS": "120"}, close_fds=True)
            os.close(follower)
            screen = bytearray()

            def read() -> None:
                while True:
                    try:
                        data = os.read(leader, 4096)
                    except OSError:
                        return
                    if not data:
                        return
                    screen.extend(data)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()

            async def until(text: str, timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while text not in plain(screen):
                    assert time.monotonic() < deadline, (text, plain(screen))
                    assert process.poll() is None, screen.decode(errors="replace")
                    await asyncio.sleep(0.1)

            try:
                await until("joined team as Term", 30)
                async with RoomClient(url, "team", "Ana", speak="es", listen="es",
                                      mic=spanish_twice()):
                    await until("Ana joined", 15)
                    await until("Ana: ", 40)
                    deadline = time.monotonic() + 40
                    while not any(line.startswith("Ana: ") and "sable" in line.lower()
                                  for line in kept_lines(screen)):
                        assert time.monotonic() < deadline, plain(screen)
                        await asyncio.sleep(0.2)
                    assert "\x1b[2m" in screen.decode(errors="replace"), "the tail is dimmed"
                process.send_signal(signal.SIGINT)
                code = await asyncio.to_thread(process.wait, 15)
                await until("left the room", 5)
                assert code == 0, screen.decode(errors="replace")
                print("\n".join(kept_lines(screen)))
            finally:
                if process.poll() is None:
                    process.kill()
                os.close(leader)

    asyncio.run(main())
