"""The bot's two kinds of Janus VideoRoom handles, each with its own aiortc peer connection.

Publisher: one per target language, display name "Interpreter · Français", sending that
language's interpretation (audio) and its captions (data channel "captions"). Subscriber:
one multistream handle for every other publisher's audio and data, renegotiated as
publishers come and go (Janus sends a new offer; we answer and "start").

What was learned against Janus 1.1 (DESIGN.md): no ICE servers (aiortc otherwise reaches
for a public STUN server), complete SDP instead of trickle, and a subscriber receives data
only after it opens a data channel itself (label JanusDataChannel).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from bot import languages
from bot.janus.api import JanusError, JanusSession
from bot.rtc.peer import close_quietly
from bot.rtc.tracks import PcmTrack
from bot.turn import TurnServer, aiortc_servers

log = logging.getLogger(__name__)
PLUGIN = "janus.plugin.videoroom"


def interpreter_display(lang: str) -> str:
    return f"Interpreter · {languages.NATIVE_NAMES.get(lang, languages.name(lang))}"


def new_connection(turn: TurnServer | None = None) -> RTCPeerConnection:
    """No ICE servers unless TURN is configured (aiortc would reach for a public STUN);
    TURN credentials are minted per connection, so a long meeting never holds stale ones."""
    return RTCPeerConnection(RTCConfiguration(iceServers=aiortc_servers(turn, "interpres-bot")))


@dataclass
class Access:
    room: int
    pin: str | None = None
    turn: TurnServer | None = None

    def body(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"room": self.room, **fields}
        if self.pin:
            body["pin"] = self.pin
        return body


@dataclass
class LanguageFeed:
    """One interpretation feed: the bot publishing one language."""

    lang: str
    handle: int
    feed_id: int
    pc: RTCPeerConnection
    track: PcmTrack
    channel: RTCDataChannel

    def send(self, message: dict[str, Any]) -> bool:
        if self.channel.readyState != "open":
            return False
        try:
            self.channel.send(json.dumps(message, ensure_ascii=False))
        except Exception:  # a closing channel: the caption is lost, the room is not
            return False
        return True

    async def close(self, session: JanusSession) -> None:
        self.track.stop()
        await close_quietly(self.pc)
        await session.detach(self.handle)


async def join_publisher(session: JanusSession, access: Access, display: str,
                         on_event: Callable[[dict[str, Any]], None]
                         ) -> tuple[int, int, int, list[dict[str, Any]]]:
    """Attach and join as a publisher: (handle, feed id, private id, current publishers)."""
    handle = await session.attach(PLUGIN, on_event)
    data, _ = await session.request(
        handle, access.body(request="join", ptype="publisher", display=display),
        what=f"join room {access.room}")
    return handle, int(data["id"]), int(data.get("private_id", 0)), data.get("publishers", [])


async def publish_language(session: JanusSession, access: Access, lang: str,
                           on_event: Callable[[dict[str, Any]], None]) -> LanguageFeed:
    display = interpreter_display(lang)
    handle, feed_id, _, _ = await join_publisher(session, access, display, on_event)
    pc = new_connection(access.turn)
    track = PcmTrack(encoded=True)
    pc.addTransceiver(track, direction="sendonly")
    channel = pc.createDataChannel("captions")
    await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
    try:
        _, answer = await session.request(
            handle, {"request": "publish", "display": display,
                     # Pages find the feed of a language by this, not by the display name.
                     "descriptions": [{"mid": "0", "description": f"interpretation:{lang}"}]},
            jsep={"type": "offer", "sdp": pc.localDescription.sdp},
            what=f"publish {display}")
        if not answer:
            raise JanusError(0, "no SDP answer", f"publish {display}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    except BaseException:
        await close_quietly(pc)
        raise
    log.info("janus: publishing %s as feed %s", display, feed_id)
    return LanguageFeed(lang, handle, feed_id, pc, track, channel)


@dataclass
class Stream:
    mid: str
    feed: int
    display: str
    kind: str  # "audio", "video", "data"


@dataclass
class Subscriber:
    """The multistream subscription: which mid carries which publisher's audio."""

    session: JanusSession
    access: Access
    private_id: int
    on_track: Callable[[Stream, MediaStreamTrack], None]
    on_gone: Callable[[Stream], None]
    on_data: Callable[[Any], None]
    handle: int | None = None
    pc: RTCPeerConnection | None = None
    streams: dict[str, Stream] = field(default_factory=dict)
    feeds: set[int] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    async def subscribe(self, publishers: list[dict[str, Any]]) -> None:
        """Add the audio and data streams of these publishers (new ones only)."""
        wanted = []
        for publisher in publishers:
            feed = int(publisher["id"])
            if feed in self.feeds:
                continue
            for stream in publisher.get("streams", []):
                if stream.get("type") in ("audio", "data") and not stream.get("disabled"):
                    wanted.append({"feed": feed, "mid": stream["mid"]})
            self.feeds.add(feed)
        if not wanted:
            return
        async with self._lock:
            if self.handle is None:
                self.handle = await self.session.attach(PLUGIN, self._on_event)
                data, offer = await self.session.request(
                    self.handle, self.access.body(request="join", ptype="subscriber",
                                                  private_id=self.private_id,
                                                  streams=wanted),
                    what="subscribe")
            else:
                data, offer = await self.session.request(
                    self.handle, {"request": "update", "subscribe": wanted},
                    what="update the subscription")
            if offer:
                await self._answer(data, offer)

    async def forget(self, feed: int) -> None:
        """A publisher left: Janus drops its streams itself (and sends a new offer)."""
        self.feeds.discard(feed)
        for stream in [s for s in self.streams.values() if s.feed == feed]:
            del self.streams[stream.mid]
            self.on_gone(stream)

    def _on_event(self, event: dict[str, Any]) -> None:
        jsep = event.get("jsep")
        data = event.get("plugindata", {}).get("data", {})
        if jsep and jsep.get("type") == "offer":
            # Janus renegotiates on its own when a subscribed publisher goes away.
            task = asyncio.get_running_loop().create_task(self._renegotiate(data, jsep))
            self._pending.add(task)  # held, so the loop cannot drop it half done
            task.add_done_callback(self._pending.discard)

    async def _renegotiate(self, data: dict[str, Any], offer: dict[str, Any]) -> None:
        async with self._lock:
            try:
                await self._answer(data, offer)
            except Exception:
                log.exception("janus: renegotiating the subscription failed")

    async def _answer(self, data: dict[str, Any], offer: dict[str, Any]) -> None:
        if self.pc is None:
            self.pc = new_connection(self.access.turn)
            # Janus relays publishers' data only to subscribers that open a channel too.
            self.pc.createDataChannel("JanusDataChannel")

            @self.pc.on("datachannel")
            def on_datachannel(channel: RTCDataChannel) -> None:
                channel.on("message", self.on_data)

        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        assert self.handle is not None
        await self.session.request(self.handle, {"request": "start"},
                                   jsep={"type": "answer", "sdp": pc.localDescription.sdp},
                                   what="start the subscription")
        current = {str(s["mid"]): s for s in data.get("streams", []) if s.get("active", True)
                   and "feed_id" in s}
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid
            info = current.get(str(mid)) if mid is not None else None
            if info is None or mid in self.streams or info.get("type") != "audio":
                continue
            stream = Stream(str(mid), int(info["feed_id"]), str(info.get("feed_display", "")),
                            "audio")
            self.streams[stream.mid] = stream
            self.on_track(stream, transceiver.receiver.track)
        for mid in [m for m in self.streams if m not in current]:
            self.on_gone(self.streams.pop(mid))

    async def close(self) -> None:
        for stream in list(self.streams.values()):
            self.on_gone(stream)
        self.streams.clear()
        if self.pc is not None:
            await close_quietly(self.pc)
        if self.handle is not None:
            await self.session.detach(self.handle)
