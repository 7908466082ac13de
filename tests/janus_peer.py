"""Scripted Janus participants for tests: a publisher playing a clip, a listener subscribing
to an interpreter feed (its audio and its captions)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import RTCDataChannel, RTCSessionDescription

from bot.janus.api import JanusSession
from bot.janus.peers import PLUGIN, Access, new_connection
from bot.rtc.peer import close_quietly
from tests.janus_net import API_SECRET
from tests.rtc_client import ClipTrack, Received, record


@dataclass
class Participant:
    """A person in the Janus room: publishes `samples` (48 kHz int16) under `display`."""

    url: str
    room: int
    display: str
    samples: np.ndarray | None = None
    delay: float = 0.5
    after: str = "silence"  # what the microphone sends after the clip (see ClipTrack)
    pin: str | None = None
    session: JanusSession | None = None
    feed_id: int = 0
    channel: RTCDataChannel | None = None
    track: ClipTrack | None = None
    _pcs: list[Any] = field(default_factory=list)

    async def publish(self) -> None:
        self.session = JanusSession(self.url, API_SECRET)
        await self.session.create()
        handle = await self.session.attach(PLUGIN, lambda event: None)
        data, _ = await self.session.request(handle, Access(self.room, self.pin).body(
            request="join", ptype="publisher", display=self.display))
        self.feed_id = int(data["id"])
        pc = new_connection()
        self._pcs.append(pc)
        self.track = ClipTrack(self.samples, delay=self.delay, after=self.after)
        pc.addTransceiver(self.track, direction="sendonly")
        self.channel = pc.createDataChannel("chat")
        await pc.setLocalDescription(await pc.createOffer())
        _, answer = await self.session.request(
            handle, {"request": "publish", "display": self.display},
            jsep={"type": "offer", "sdp": pc.localDescription.sdp})
        assert answer is not None
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    def send(self, message: dict[str, Any]) -> None:
        assert self.channel is not None
        self.channel.send(json.dumps(message))

    async def close(self) -> None:
        for pc in self._pcs:
            await close_quietly(pc)
        if self.session is not None:
            await self.session.destroy()


@dataclass
class Listener:
    """Subscribes to the feed whose display name is `display`: audio frames and messages."""

    url: str
    room: int
    display: str
    pin: str | None = None
    exclude: set[int] = field(default_factory=set)  # feeds not to take (a bot's old one)
    feed: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio: list[Received] = field(default_factory=list)
    session: JanusSession | None = None
    _pc: Any = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def find_feed(self, timeout: float = 20.0) -> int:
        """Poll the room's participant list until a publisher with our display name shows."""
        assert self.session is not None
        handle = await self.session.attach(PLUGIN, lambda event: None)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                data, _ = await self.session.request(
                    handle, Access(self.room, self.pin).body(request="listparticipants"))
                for person in data.get("participants", []):
                    if (person.get("display") == self.display and person.get("publisher")
                            and int(person["id"]) not in self.exclude):
                        return int(person["id"])
                await asyncio.sleep(0.2)
        finally:
            await self.session.detach(handle)
        raise AssertionError(f"no publisher {self.display!r} in room {self.room}")

    async def subscribe(self) -> None:
        self.session = JanusSession(self.url, API_SECRET)
        await self.session.create()
        feed = self.feed = await self.find_feed()
        handle = await self.session.attach(PLUGIN, lambda event: None)
        data, offer = await self.session.request(handle, Access(self.room, self.pin).body(
            request="join", ptype="subscriber", streams=[{"feed": feed}]))
        assert offer is not None, data
        pc = self._pc = new_connection()
        pc.createDataChannel("JanusDataChannel")

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def on_message(raw: Any) -> None:
                with contextlib.suppress(ValueError, TypeError):
                    self.messages.append({**json.loads(raw), "received_at": time.monotonic()})

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self._tasks.append(asyncio.create_task(record(track, self.audio)))

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.session.request(handle, {"request": "start"},
                                   jsep={"type": "answer", "sdp": pc.localDescription.sdp})

    def captions(self, final: bool = True) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "caption"
                and (m.get("final") or not final)]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pc is not None:
            await close_quietly(self._pc)
        if self.session is not None:
            await self.session.destroy()
