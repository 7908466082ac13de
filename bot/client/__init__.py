"""A headless participant for the built-in room: the library behind `interpres listen`,
the tests and the benchmarks. See bot.client.room_client for the protocol it speaks."""

from bot.client.audio import ClipTrack
from bot.client.messages import (
    ActivityEvent,
    CaptionEvent,
    Event,
    NoticeEvent,
    ParticipantsEvent,
    Person,
    PhrasesEvent,
    PongEvent,
    SpeechEvent,
    Unknown,
    parse,
)
from bot.client.room_client import JoinError, Received, RoomClient, record, request_json

__all__ = [
    "ActivityEvent", "CaptionEvent", "ClipTrack", "Event", "JoinError", "NoticeEvent",
    "ParticipantsEvent", "Person", "PhrasesEvent", "PongEvent", "Received", "RoomClient",
    "SpeechEvent", "Unknown", "parse", "record", "request_json",
]
