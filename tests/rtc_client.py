"""A scripted meeting participant: a real aiortc peer that joins the app like the page does.

Its microphone plays a clip (then silence) in real time; it records captions and other
data-channel messages, and the energy of both downstream tracks, with arrival times.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from bot.audio_io import read_audio
from bot.rtc.tracks import FRAME, PacedTrack
from bot.tts.resample import to_int16_48k
from tests.clips import clip


class ClipTrack(PacedTrack):
    """Plays 48 kHz mono int16 samples after `delay` seconds, then, by `after`: "silence"
    (frames of it, as a browser microphone sends), "nothing" (no packet at all, as Opus DTX
    or a stalled sender) or "end" (the track ends, as a file player's does)."""

    HANGOVER = 0  # with `after="nothing"`, not one packet follows the clip

    def __init__(self, samples: np.ndarray | None = None, delay: float = 0.5,
                 after: str = "silence") -> None:
        super().__init__()
        self.samples = samples if samples is not None else np.zeros(0, np.int16)
        self.delay_frames = int(delay * 50)
        self.after = after
        self.position = 0
        self.frames = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None  # monotonic time of the clip's last frame

    def next_samples(self) -> np.ndarray | None:
        self.frames += 1
        if self.frames <= self.delay_frames:
            return np.zeros(FRAME, np.int16)
        if self.position >= len(self.samples):
            if self.after == "end":
                self.stop()
            return None if self.after != "silence" else np.zeros(FRAME, np.int16)
        if self.started_at is None:
            self.started_at = time.monotonic()
        chunk = self.samples[self.position:self.position + FRAME]
        self.position += FRAME
        if self.position >= len(self.samples):
            self.ended_at = time.monotonic()
        return np.pad(chunk, (0, FRAME - len(chunk)))


@dataclass
class Received:
    at: float
    rms: float


@dataclass
class Client:
    base_url: str
    room: str
    name: str
    speak: str
    listen: str
    mic: ClipTrack = field(default_factory=ClipTrack)
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    mix: list[Received] = field(default_factory=list)
    interpretation: list[Received] = field(default_factory=list)
    participant: str = ""
    token: str | None = None  # a join token, sent as the page does (Authorization: Bearer)
    answer_heartbeats: bool = True
    profanity: str = "raw"  # raw, masked or removed: how listed swear words reach us

    def __post_init__(self) -> None:
        self.pc = RTCPeerConnection()
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self) -> None:
        pc = self.pc
        pc.addTransceiver(self.mic, direction="sendrecv")
        pc.addTransceiver("audio", direction="recvonly")
        self.channel = pc.createDataChannel("captions")
        self.channel.on("message", self._on_message)

        @pc.on("track")
        def on_track(track) -> None:
            index = [t.receiver.track for t in pc.getTransceivers()].index(track)
            sink = self.mix if index == 0 else self.interpretation
            self._tasks.append(asyncio.create_task(record(track, sink)))

        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "type": "offer", "name": self.name,
                "speak": self.speak, "listen": self.listen, "profanity": self.profanity}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        status, answer = await asyncio.to_thread(
            post_json, f"{self.base_url}/api/rooms/{self.room}/offer", body, headers)
        assert status == 200, answer
        self.participant = answer["participant"]
        self.answer_sdp = answer["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    def _on_message(self, raw: str) -> None:
        message = json.loads(raw)
        self.messages.append((time.monotonic(), message))
        if message.get("type") == "heartbeat" and self.answer_heartbeats:
            self.send({"type": "heartbeat"})  # as the page does

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(json.dumps(message))

    def set_profanity(self, mode: str) -> None:
        """raw, masked or removed, from the next caption on (and our voice clips)."""
        self.profanity = mode
        self.send({"type": "profanity", "mode": mode})

    @property
    def phrases(self) -> list[dict[str, str]] | None:
        """The room's phrase list, as the server last sent it (None: not yet)."""
        sent = [m["phrases"] for _, m in self.messages if m.get("type") == "phrases"]
        return sent[-1] if sent else None

    async def set_phrases(self, phrases: list[dict[str, str]]) -> tuple[int, dict[str, Any]]:
        """Replace the room's phrase list (PUT /api/rooms/{room}/phrases), as the page does."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await asyncio.to_thread(
            post_json, f"{self.base_url}/api/rooms/{self.room}/phrases", {"phrases": phrases},
            headers, "PUT")

    def captions(self, lang: str | None = None, final: bool | None = None) -> list[dict]:
        return [m for _, m in self.messages if m.get("type") == "caption"
                and (lang is None or m["lang"] == lang)
                and (final is None or m["final"] == final)]

    def first(self, predicate) -> float | None:
        return next((at for at, m in self.messages if predicate(m)), None)

    async def wait_for(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: no matching message in {timeout} s; got "
                             f"{[m for _, m in self.messages][-5:]}")

    def vanish(self) -> None:
        """What a killed browser does: stop answering and sending, without any goodbye (no
        DTLS close_notify, no SCTP abort): close its ICE sockets under aiortc."""
        self.answer_heartbeats = False
        for transceiver in self.pc.getTransceivers():
            transport = transceiver.sender.transport
            if transport is None:
                continue
            for protocol in transport.transport._connection._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def record(track, sink: list[Received]) -> None:
    """Read a remote track to its end, appending each frame's arrival time and RMS."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        data = frame.to_ndarray().astype(np.float32) / 32768
        sink.append(Received(time.monotonic(), float(np.sqrt(np.mean(data ** 2)))))


def final_caption(lang: str | None = None):
    """A predicate: a final caption with text (in `lang`, if given)."""
    return lambda m: (m.get("type") == "caption" and m["final"] and bool(m["text"])
                      and (lang is None or m["lang"] == lang))


def voice(prefix: str) -> np.ndarray:
    """A shared clip (by file-name prefix) as 48 kHz int16, what a microphone track plays."""
    return to_int16_48k(read_audio(clip(prefix).path), 16000)


async def wait_open(*clients: Client, timeout: float = 20.0) -> None:
    """Until every client's captions channel is open."""
    deadline = time.monotonic() + timeout
    while any(c.channel.readyState != "open" for c in clients):
        assert time.monotonic() < deadline, "data channels did not open"
        await asyncio.sleep(0.05)


def post_json(url: str, body: Any, headers: dict[str, str] | None = None,
              method: str = "POST") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read() or b"{}")


def energy_after(received: list[Received], start: float, threshold: float = 0.01) -> float:
    """Seconds of frames louder than `threshold` after `start`."""
    return sum(0.02 for r in received if r.at >= start and r.rms > threshold)
