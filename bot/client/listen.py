"""`interpres listen`: a room's live captions in a terminal, as a participant; `--speak FILE`
also plays a file into the room."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.client.audio import ClipTrack
from bot.client.messages import CaptionEvent
from bot.client.room_client import JoinError, RoomClient
from bot.client.terminal import CaptionPrinter


@dataclass(frozen=True)
class Target:
    base_url: str
    room: str
    token: str | None


def target(url: str, room: str | None, token: str | None) -> Target:
    """Where to join, from a server URL or a whole invitation link
    (https://host/?room=standup#token=...): --room and --token win over the link's."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL of an Interpres server")
    linked_room = parse_qs(parts.query).get("room", [None])[0]
    linked_token = parse_qs(parts.fragment).get("token", [None])[0]
    room = room or linked_room
    if not room:
        raise ValueError("which room? give --room NAME (or an invitation link with ?room=)")
    return Target(f"{parts.scheme}://{parts.netloc}", room, token or linked_token)


async def listen(where: Target, lang: str, name: str, speak_file: Path | None = None,
                 speak: str = "auto", source: bool = False, profanity: str = "raw",
                 out=sys.stdout) -> int:
    mic = ClipTrack.from_file(speak_file, delay=1.0, after="nothing") if speak_file else None
    client = RoomClient(where.base_url, where.room, name, speak=speak, listen=lang, mic=mic,
                        token=where.token, profanity=profanity, source=source)
    printer = CaptionPrinter(out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await client.join()
        printer.line(f"· joined {where.room} as {client.name}, captions in {lang}"
                     f"{', playing ' + speak_file.name if speak_file else ''} (Ctrl-C leaves)",
                     dim=True)

        async def show() -> None:
            async for event in client.events():
                if isinstance(event, CaptionEvent) and event.lang != lang and not source:
                    continue
                printer.show(event)

        shown = asyncio.create_task(show())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({shown, stopped}, return_when=asyncio.FIRST_COMPLETED)
        ended_by_server = shown.done() and not stop.is_set()
        for task in (shown, stopped):
            task.cancel()
        await asyncio.gather(shown, stopped, return_exceptions=True)
        await client.close()
        printer.close()
        if ended_by_server:
            print("interpres: the server closed the connection", file=sys.stderr)
            return 1
        printer.line("· left the room", dim=True)
        return 0
    except JoinError as error:
        await client.close()
        print(f"interpres: could not join: {error}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
