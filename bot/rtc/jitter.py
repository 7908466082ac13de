"""The audio jitter buffer of the server's receivers.

aiortc holds 4 audio packets (80 ms) before it releases the first, on every receiver. In
the built-in room a voice crosses two receivers (the server's, then the listener's), so
that default alone made the original-voice mix ~95 ms later than a direct call. The room
sets the server side shorter; the value is configurable for networks with more jitter.
aiortc has no public setting for this, so the receiver's buffer is replaced before any
packet arrives (right after setRemoteDescription).
"""

from __future__ import annotations

import logging

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer

log = logging.getLogger(__name__)
_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


def set_audio_prefetch(pc: RTCPeerConnection, frames: int) -> None:
    """Release audio after `frames` packets (20 ms each) instead of aiortc's 4."""
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind == "audio" and hasattr(receiver, _ATTRIBUTE):
            setattr(receiver, _ATTRIBUTE, JitterBuffer(capacity=16, prefetch=frames))
        else:
            log.debug("no audio jitter buffer to tune on %s", transceiver.kind)
