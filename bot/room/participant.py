"""One person in a LocalRoom: their peer connection, tracks, data channel and pipeline."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection
from prometheus_client import Counter

from bot.pipeline.session import SpeakerPipeline
from bot.rtc.speaker_feed import SpeakerFeed
from bot.rtc.tracks import MixMinusTrack, PcmTrack

SENT_MESSAGES = Counter("interpres_sent_caption_messages",
                        "Data-channel messages sent to participants.")
DROPPED_MESSAGES = Counter("interpres_dropped_caption_messages",
                           "Data-channel messages dropped for peers that stopped reading.")

log = logging.getLogger(__name__)

# Above this many unsent bytes on a data channel, captions to that peer alone are dropped.
MAX_BUFFERED = 256 * 1024


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    speak: str  # ISO 639-1 or "auto"
    listen: str
    pc: RTCPeerConnection
    mix: MixMinusTrack
    interpretation: PcmTrack
    source_captions: bool = False
    can_speak: bool = True  # False: a listen-only token; their microphone is never used
    transcribe: bool = True  # False: opted out; others hear them, nothing recognises them
    profanity: str = "raw"  # how listed swear words reach them: raw, masked or removed
    last_seen: float = 0.0  # monotonic time of their last data-channel message
    heartbeat_sent: float = 0.0
    received_messages: int = 0
    ignored_messages: int = 0  # over the message rate limit
    flood_noticed: float = 0.0
    channel: RTCDataChannel | None = None
    pipeline: SpeakerPipeline | None = None
    audio: SpeakerFeed | None = None  # feeds the pipeline from their microphone
    outbound: asyncio.Task[None] | None = None  # the pipeline's events to the room
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    dropped_messages: int = 0
    sent_messages: int = 0
    left: bool = False

    def send(self, message: dict[str, Any]) -> bool:
        """Send one JSON message; False when it could not be sent (not open, or the peer
        stopped reading and its buffer is full: that peer alone loses it)."""
        channel = self.channel
        if channel is None or channel.readyState != "open":
            return False
        if channel.bufferedAmount > MAX_BUFFERED:
            self.dropped_messages += 1
            DROPPED_MESSAGES.inc()
            return False
        try:
            channel.send(json.dumps(message, ensure_ascii=False))
        except Exception:  # a channel closing under us is not the room's problem
            log.debug("send to %s failed", self.id, exc_info=True)
            return False
        self.sent_messages += 1
        SENT_MESSAGES.inc()
        return True

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "speak": self.speak, "listen": self.listen,
                "listen_only": not self.can_speak, "transcribed": self.transcribed}

    @property
    def transcribed(self) -> bool:
        return self.can_speak and self.transcribe
