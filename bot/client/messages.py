"""The data-channel messages the server sends, as typed events (caption protocol v1).

`parse` never raises: a message this client does not know (a newer server) comes back as
`Unknown`, as the page ignores types it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CaptionEvent:
    """One revision of a segment's caption; a later one with the same `segment` replaces it,
    and `final` freezes it. `committed` is a prefix of `text` that later interims keep (the
    final may correct a committed word it is sure of and add words interims missed between
    committed ones, never drop one; empty for translated interims)."""

    segment: str
    rev: int
    final: bool
    speaker_id: str
    speaker_name: str
    source_lang: str
    lang: str
    text: str
    committed: str
    t0: float
    t1: float
    engine: str

    @property
    def tail(self) -> str:
        """The part of `text` that may still change."""
        return self.text[len(self.committed):] if self.text.startswith(self.committed) \
            else self.text


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    speak: str
    listen: str
    you: bool = False
    listen_only: bool = False
    transcribed: bool = True


@dataclass(frozen=True)
class ParticipantsEvent:
    participants: tuple[Person, ...]


@dataclass(frozen=True)
class ActivityEvent:
    """Someone started or stopped speaking."""

    id: str
    speaking: bool


@dataclass(frozen=True)
class SpeechEvent:
    """Our interpretation track starts or stops speaking (the page ducks the original)."""

    lang: str
    playing: bool


@dataclass(frozen=True)
class PhrasesEvent:
    """The room's phrase list (names and terms), on joining and on every change."""

    phrases: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class NoticeEvent:
    level: str
    code: str
    text: str


@dataclass(frozen=True)
class PongEvent:
    t: Any


@dataclass(frozen=True)
class Unknown:
    message: dict[str, Any] = field(default_factory=dict)


Event = (CaptionEvent | ParticipantsEvent | ActivityEvent | SpeechEvent | PhrasesEvent
         | NoticeEvent | PongEvent | Unknown)


def parse(message: Any) -> Event | None:
    """A typed event for one decoded JSON message; None for heartbeats (the client answers
    them itself)."""
    if not isinstance(message, dict):
        return Unknown({"raw": message})
    kind = message.get("type")
    try:
        if kind == "caption":
            speaker = message.get("speaker") or {}
            return CaptionEvent(
                segment=str(message["segment"]), rev=int(message.get("rev", 0)),
                final=bool(message.get("final")), speaker_id=str(speaker.get("id", "")),
                speaker_name=str(speaker.get("name", "")),
                source_lang=str(message.get("source_lang", "")), lang=str(message["lang"]),
                text=str(message.get("text", "")), committed=str(message.get("committed", "")),
                t0=float(message.get("t0", 0.0)), t1=float(message.get("t1", 0.0)),
                engine=str(message.get("engine", "")))
        if kind == "participants":
            return ParticipantsEvent(tuple(
                Person(id=str(p["id"]), name=str(p.get("name", "")),
                       speak=str(p.get("speak", "")), listen=str(p.get("listen", "")),
                       you=bool(p.get("you")), listen_only=bool(p.get("listen_only")),
                       transcribed=p.get("transcribed") is not False)
                for p in message.get("participants", []) if isinstance(p, dict)))
        if kind == "activity":
            return ActivityEvent(str(message["id"]), bool(message.get("speaking")))
        if kind == "speech":
            return SpeechEvent(str(message.get("lang", "")), message.get("state") == "start")
        if kind == "phrases":
            return PhrasesEvent(tuple(p for p in message.get("phrases", [])
                                      if isinstance(p, dict)))
        if kind == "notice":
            return NoticeEvent(str(message.get("level", "info")), str(message.get("code", "")),
                               str(message.get("text", "")))
        if kind == "pong":
            return PongEvent(message.get("t"))
        if kind == "heartbeat":
            return None
    except (KeyError, TypeError, ValueError):
        pass
    return Unknown(message)
