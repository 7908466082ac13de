"""RoomClient: a headless participant of the built-in room (`interpres serve`).

A real aiortc peer that joins exactly as the page does (one peer connection: microphone up
and the others' voices down on transceiver 0, the interpretation down on transceiver 1, the
`captions` data channel; complete SDP, no trickle), answers the server's heartbeats, and
hands the data-channel messages back as typed events (`bot.client.messages`).

    async with RoomClient("http://127.0.0.1:8000", "standup", "Bot", listen="fr") as client:
        async for event in client.events():
            if isinstance(event, CaptionEvent) and event.final:
                print(event.speaker_name, event.text)

Everything received is also kept with its arrival time (`messages`), and the loudness of
both downstream tracks per 20 ms frame (`mix`, `interpretation`), for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bot.client.audio import ClipTrack
from bot.client.messages import Event, parse


class JoinError(RuntimeError):
    """The server refused the join; `status` is the HTTP status (0: unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})" if status else message)
        self.status = status


@dataclass
class Received:
    """One 20 ms frame of a downstream track: arrival (monotonic) and loudness."""

    at: float
    rms: float


def request_json(url: str, body: Any = None, token: str | None = None,
                 method: str | None = None, timeout: float = 30.0
                 ) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of one HTTP request; blocking (call it in a thread)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as failure:
        try:
            return failure.code, json.loads(failure.read() or b"{}")
        except ValueError:
            return failure.code, {"error": failure.reason}
    except (urllib.error.URLError, OSError) as failure:
        reason = getattr(failure, "reason", failure)
        raise JoinError(0, f"cannot reach {url.split('/api/')[0]}: {reason}") from None


async def record(track: MediaStreamTrack, sink: list[Received]) -> None:
    """Read a remote track to its end, appending each frame's arrival time and RMS."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        data = frame.to_ndarray().astype(np.float32) / 32768.0
        sink.append(Received(time.monotonic(), float(np.sqrt(np.mean(data ** 2)))))


class RoomClient:
    """One participant. `speak`: "auto" or a language code; `listen`: the language to read
    and hear; `mic`: what the microphone sends (default: nothing); `token`: a join token
    (from an invitation link's #token=...) when the server requires one; `source`: also
    receive captions in the speaker's own language; `profanity`: raw, masked or removed."""

    def __init__(self, base_url: str, room: str, name: str, speak: str = "auto",
                 listen: str = "en", mic: MediaStreamTrack | None = None,
                 token: str | None = None, profanity: str = "raw", source: bool = False,
                 answer_heartbeats: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.room, self.name, self.speak, self.listen = room, name, speak, listen
        self.mic = mic if mic is not None else ClipTrack(after="nothing")
        self.token, self.profanity, self.source = token, profanity, source
        self.answer_heartbeats = answer_heartbeats
        self.participant = ""  # our id in the room, once joined
        self.answer_sdp = ""
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.mix: list[Received] = []
        self.interpretation: list[Received] = []
        self.pc = RTCPeerConnection()
        self.channel: Any = None
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    # -- joining and leaving --------------------------------------------------------------

    async def join(self) -> RoomClient:
        pc = self.pc
        pc.addTransceiver(self.mic, direction="sendrecv")
        pc.addTransceiver("audio", direction="recvonly")
        self.channel = pc.createDataChannel("captions")
        self.channel.on("message", self._on_message)
        self.channel.on("close", lambda: self._events.put_nowait(None))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            index = [t.receiver.track for t in pc.getTransceivers()].index(track)
            sink = self.mix if index == 0 else self.interpretation
            self._tasks.append(asyncio.create_task(record(track, sink)))

        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "type": "offer", "name": self.name,
                "speak": self.speak, "listen": self.listen, "profanity": self.profanity}
        status, answer = await asyncio.to_thread(
            request_json, f"{self.base_url}/api/rooms/{quote(self.room)}/offer", body,
            self.token)
        if status != 200:
            await self.close()
            raise JoinError(status, str(answer.get("error") or "the server refused the join"))
        self.participant = answer["participant"]
        self.name = answer.get("name", self.name)
        self.answer_sdp = answer["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        return self

    async def wait_open(self, timeout: float = 20.0) -> None:
        """Until the captions channel is open (ICE and DTLS done)."""
        deadline = time.monotonic() + timeout
        while self.channel is None or self.channel.readyState != "open":
            if time.monotonic() > deadline:
                raise TimeoutError("the captions channel did not open")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Leave the room: the server finishes what we said last and tells the others."""
        if self._closed:
            return
        self._closed = True
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._events.put_nowait(None)

    leave = close

    async def __aenter__(self) -> RoomClient:
        return await self.join()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- messages -------------------------------------------------------------------------

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        self.messages.append((time.monotonic(), message))
        if isinstance(message, dict) and message.get("type") == "heartbeat":
            if self.answer_heartbeats:
                self.send({"type": "heartbeat"})  # or the server takes us for gone in 8 s
            return
        event = parse(message)
        if event is not None:
            self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[Event]:
        """Every event from the server, as it comes, until we leave or the channel closes."""
        while (event := await self._events.get()) is not None:
            yield event

    def send(self, message: dict[str, Any]) -> bool:
        if self.channel is None or self.channel.readyState != "open":
            return False
        self.channel.send(json.dumps(message))
        return True

    def set_listen(self, lang: str, source: bool | None = None) -> None:
        """Read and hear another language (and the speakers' own words too, with source)."""
        self.listen = lang
        self.source = self.source if source is None else source
        self.send({"type": "listen", "lang": lang, "source": self.source})

    def set_speak(self, lang: str) -> None:
        """The language we speak, or "auto"."""
        self.speak = lang
        self.send({"type": "speak", "lang": lang})

    def set_profanity(self, mode: str) -> None:
        """raw, masked or removed, from the next caption on (and our voice clips)."""
        self.profanity = mode
        self.send({"type": "profanity", "mode": mode})

    def set_transcribe(self, enabled: bool) -> None:
        """False: opt out; the others still hear us, nothing of ours is recognised."""
        self.send({"type": "transcribe", "enabled": enabled})

    @property
    def phrases(self) -> list[dict[str, str]] | None:
        """The room's phrase list, as the server last sent it (None: not yet)."""
        sent = [m["phrases"] for _, m in self.messages if m.get("type") == "phrases"]
        return sent[-1] if sent else None

    async def set_phrases(self, phrases: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
        """Replace the room's phrase list (PUT /api/rooms/{room}/phrases), as the page does."""
        return await asyncio.to_thread(
            request_json, f"{self.base_url}/api/rooms/{quote(self.room)}/phrases",
            {"phrases": phrases}, self.token, "PUT")

    # -- what arrived ---------------------------------------------------------------------

    def captions(self, lang: str | None = None, final: bool | None = None) -> list[dict]:
        return [m for _, m in self.messages if m.get("type") == "caption"
                and (lang is None or m["lang"] == lang)
                and (final is None or m["final"] == final)]

    def first(self, predicate: Callable[[dict], bool]) -> float | None:
        """Arrival time of the first message matching `predicate`."""
        return next((at for at, m in self.messages if predicate(m)), None)

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: no matching message in {timeout} s; got "
                             f"{[m for _, m in self.messages][-5:]}")


