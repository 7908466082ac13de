"""The scripted meeting participant of the tests: bot.client.RoomClient (the public client)
with a microphone that sends silence by default, as a browser's does, and what only tests
need: vanishing like a killed browser, clips by name, predicates and HTTP helpers."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from bench.clips import clip
from bot.audio_io import read_audio
from bot.client import ClipTrack, Received, RoomClient, record
from bot.tts.resample import to_int16_48k

__all__ = ["Client", "ClipTrack", "Received", "energy_after", "final_caption", "post_json",
           "record", "voice", "wait_open"]


class Client(RoomClient):
    def __init__(self, base_url: str, room: str, name: str, speak: str, listen: str,
                 mic: MediaStreamTrack | None = None, **options: Any) -> None:
        super().__init__(base_url, room, name, speak, listen,
                         mic=mic if mic is not None else ClipTrack(), **options)

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


def final_caption(lang: str | None = None):
    """A predicate: a final caption with text (in `lang`, if given)."""
    return lambda m: (m.get("type") == "caption" and m["final"] and bool(m["text"])
                      and (lang is None or m["lang"] == lang))


def voice(prefix: str) -> np.ndarray:
    """A shared clip (by file-name prefix) as 48 kHz int16, what a microphone track plays."""
    return to_int16_48k(read_audio(clip(prefix).path), 16000)


async def wait_open(*clients: RoomClient, timeout: float = 20.0) -> None:
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
