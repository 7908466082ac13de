"""LocalRoom: the built-in meeting room. The server is the audio hub and the bot lives in it.

Each participant's peer connection has fixed transceivers (nothing is renegotiated):
audio 0 sendrecv (their microphone up; the mix of everybody else down), audio 1 (the
interpretation in their listen language, down), data channel `captions`. Their microphone
feeds their own speaker pipeline; its events are fanned out here: captions to whoever reads
that language, synthesized speech to whoever listens to it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from bot import profanity
from bot.config_file import LEAD_SECONDS
from bot.events import Activity, Caption, Event, Notice, Speaker, SpeechAudio
from bot.limits import RateLimiter
from bot.phrases import Phrase, to_json
from bot.pipeline.engines import Engines
from bot.pipeline.interpreter import InterpreterOptions
from bot.pipeline.recognizer import RecognizerOptions
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock
from bot.room.participant import Participant
from bot.room.privacy import privacy_text
from bot.rtc.inbound import discard, drain
from bot.rtc.peer import close_quietly
from bot.rtc.speaker_feed import FINISH_TIMEOUT, SpeakerFeed
from bot.rtc.tracks import MixMinusTrack, PcmTrack
from bot.store import TranscriptStore

log = logging.getLogger(__name__)
MAX_MESSAGE = 64 * 1024
PUSH_SAMPLES = 1600  # 100 ms at 16 kHz
# Application heartbeat: the server sends one every HEARTBEAT_EVERY seconds and the page
# answers; a peer silent for HEARTBEAT_TIMEOUT is gone (a killed browser sends no goodbye,
# and ICE consent checks would take 30 s to notice). A joining peer gets CONNECT_GRACE more.
HEARTBEAT_EVERY = 3.0
HEARTBEAT_TIMEOUT = 8.0
CONNECT_GRACE = 10.0
# Data-channel messages one peer may send: a page sends a few a minute.
MESSAGES_PER_MINUTE = 600
MESSAGE_BURST = 30


class LocalRoom:
    def __init__(self, name: str, engines: Engines, store: TranscriptStore | None,
                 listen_languages: set[str], speak_languages: set[str],
                 on_empty: Callable[[LocalRoom], None] | None = None,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 allowed_languages: tuple[str, ...] = (),
                 phrases: tuple[Phrase, ...] = (),
                 lead_seconds: float = LEAD_SECONDS) -> None:
        """`allowed_languages`: what automatic detection may always choose, besides the
        languages the room's people speak and listen to (INTERPRES_ALLOWED_LANGUAGES).
        `phrases`: the room's phrase list (see bot.phrases). `lead_seconds`: see
        RecognizerOptions."""
        self.name = name
        self.engines = engines
        self.store = store
        self.listen_languages = listen_languages
        self.speak_languages = speak_languages
        self.on_empty = on_empty
        self.heartbeat_timeout = heartbeat_timeout
        self.allowed_languages = allowed_languages
        self.phrases = phrases
        self.lead_seconds = lead_seconds
        self.participants: dict[str, Participant] = {}
        self._ids = itertools.count(1)
        self._clock = wall_clock()
        self._messages = RateLimiter(MESSAGES_PER_MINUTE, MESSAGE_BURST)
        self._watchdog: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()  # leavers' last utterances

    # -- joining and leaving --------------------------------------------------------------

    async def join(self, pc: RTCPeerConnection, name: str, speak: str,
                   listen: str, can_speak: bool = True, profanity: str = "raw") -> Participant:
        """Attach a participant to a peer connection whose remote offer is already set.
        A participant who may not speak (a listen-only token) has no pipeline, and their
        microphone is drained but never mixed or recognised."""
        pid = f"p{next(self._ids)}"
        participant = Participant(pid, name, speak, listen, pc, MixMinusTrack(encoded=True),
                                  PcmTrack(encoded=True), can_speak=can_speak,
                                  profanity=profanity,
                                  last_seen=time.monotonic() + CONNECT_GRACE)
        participant.interpretation.on_state = lambda playing: participant.send(
            {"type": "speech", "lang": participant.listen,
             "state": "start" if playing else "stop"})
        # addTrack reuses the offer's transceivers in order: 0 = mix, 1 = interpretation.
        pc.addTrack(participant.mix)
        pc.addTrack(participant.interpretation)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._attach_channel(participant, channel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.leave(participant)

        if can_speak:
            speaker = Speaker(pid, name)
            options = PipelineOptions(
                recognizer=RecognizerOptions(language=None if speak == "auto" else speak,
                                             phrases=self.phrases,
                                             lead_seconds=self.lead_seconds),
                interpreter=InterpreterOptions(targets=self._targets(extra=listen),
                                               phrases=self.phrases))
            participant.pipeline = SpeakerPipeline(speaker, self.engines, options,
                                                   clock=self._clock)
            await participant.pipeline.__aenter__()
            participant.audio = SpeakerFeed(participant.pipeline, PUSH_SAMPLES)
            participant.audio.start()
            participant.outbound = asyncio.create_task(self._outbound(participant))
        # The remote tracks exist since setRemoteDescription (their "track" events are
        # already past): drain every one, even the silent recvonly one. The first is the
        # microphone (the page's and the clients' fixed transceiver order).
        for index, transceiver in enumerate(pc.getTransceivers()):
            track = transceiver.receiver.track
            if track is not None:
                participant.tasks.append(asyncio.create_task(
                    self._inbound(participant, track, microphone=index == 0)))
        self.participants[pid] = participant
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch_heartbeats())
        self._retarget()
        log.info("room %s: %s joined (%d in room)", self.name, pid, len(self.participants))
        return participant

    async def leave(self, participant: Participant, finish: bool = True) -> None:
        """Release what a participant held. With `finish`, what they said last is still
        finalised, translated and spoken to the others, in the background."""
        if participant.left:
            return
        participant.left = True
        self.participants.pop(participant.id, None)
        for other in self.participants.values():
            other.mix.remove(participant.id)
        current = asyncio.current_task()
        for task in participant.tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in participant.tasks if t is not current),
                             return_exceptions=True)
        participant.mix.stop()
        participant.interpretation.stop()
        # Nobody left to hear it and no transcript to keep: nothing to finish for.
        finish = finish and (bool(self.participants) or self.store is not None)
        if participant.pipeline is None or not finish:
            # The metrics take a participant's totals when the connection closes: after
            # their pipeline's last work (a finishing speaker's closes in _finish_speaker).
            if participant.pipeline is not None:
                await self._release_pipeline(participant, finish=False)
            await close_quietly(participant.pc)
        else:
            task = asyncio.create_task(self._finish_speaker(participant))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
        log.info("room %s: %s left (%d in room)", self.name, participant.id,
                 len(self.participants))
        if self.participants:
            self._retarget()
            self._broadcast_participants()
        elif self.on_empty:
            self.on_empty(self)

    async def _finish_speaker(self, participant: Participant) -> None:
        try:
            await self._release_pipeline(participant, finish=True)
        except Exception:  # the room outlives any one participant's pipeline
            log.exception("room %s: finishing %s failed", self.name, participant.id)
        finally:
            await close_quietly(participant.pc)

    async def _release_pipeline(self, participant: Participant, finish: bool) -> None:
        assert participant.audio is not None
        if not await participant.audio.release(participant.outbound, finish):
            log.warning("room %s: %s's last utterance not finished in %.0f s", self.name,
                        participant.id, FINISH_TIMEOUT)

    @property
    def finishing(self) -> bool:
        """Whether leavers' last utterances are still being finished."""
        return bool(self._finishing)

    async def close(self) -> None:
        for participant in list(self.participants.values()):
            await self.leave(participant, finish=False)
        for task in list(self._finishing):
            task.cancel()
        await asyncio.gather(*self._finishing, return_exceptions=True)
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def _watch_heartbeats(self) -> None:
        """Send heartbeats; whoever stopped answering has gone: release what they held."""
        while self.participants:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for participant in list(self.participants.values()):
                if now - participant.last_seen > self.heartbeat_timeout:
                    log.info("room %s: %s silent for %.0f s, gone", self.name, participant.id,
                             now - participant.last_seen)
                    try:
                        await self.leave(participant)
                    except Exception:  # the watchdog must outlive any one participant
                        log.exception("releasing %s failed", participant.id)
                elif (now - participant.heartbeat_sent >= HEARTBEAT_EVERY
                      and participant.send({"type": "heartbeat"})):
                    participant.heartbeat_sent = now

    # -- media ----------------------------------------------------------------------------

    async def _inbound(self, participant: Participant, track: MediaStreamTrack,
                       microphone: bool) -> None:
        feed = participant.audio
        if feed is None or not microphone:
            # Listen-only, or not the microphone: read (an unread track queues forever),
            # ignore.
            await discard(track)
            return

        async def on_audio(mono: np.ndarray | None, rate: int, speech: np.ndarray) -> None:
            if rate == 48000 and mono is not None:  # None: digital silence, nothing to mix
                for other in self.participants.values():
                    if other is not participant:
                        other.mix.feed(participant.id, mono)
            if not participant.transcribe:
                # Opted out: the pipeline hears digital silence of the same length (its
                # clock stays true; an utterance in progress ends), never their voice.
                speech = np.zeros(len(speech), np.float32)
            await feed.audio(speech)

        await drain(track, on_audio)

    async def _outbound(self, participant: Participant) -> None:
        pipeline = participant.pipeline
        assert pipeline is not None
        async for event in pipeline.events():
            try:
                self._dispatch(participant, event)
            except Exception:  # one bad event must not stop this speaker's captions
                log.exception("dispatch failed in room %s", self.name)

    def _dispatch(self, speaker: Participant, event: Event) -> None:
        if isinstance(event, Caption):
            if event.final and self.store is not None:
                self.store.add(self.name, event)
            messages: dict[str, dict[str, Any]] = {}  # by profanity setting
            for p in list(self.participants.values()):
                if event.lang == p.listen or (event.is_source and p.source_captions):
                    if p.profanity not in messages:
                        messages[p.profanity] = _as_read(event, p.profanity)
                    p.send(messages[p.profanity])
        elif isinstance(event, SpeechAudio):
            for p in list(self.participants.values()):
                if (p is not speaker and p.listen == event.lang
                        and p.profanity in event.profanity):
                    p.interpretation.push(event.samples)
        elif isinstance(event, Activity):
            self._broadcast({"type": "activity", "id": speaker.id, "speaking": event.speaking})
        elif isinstance(event, Notice):
            speaker.send(event.to_wire())

    # -- languages ------------------------------------------------------------------------

    def _targets(self, extra: str | None = None) -> tuple[str, ...]:
        langs = {p.listen for p in self.participants.values()}
        if extra:
            langs.add(extra)
        return tuple(sorted(langs))

    def _candidates(self) -> tuple[str, ...]:
        """What automatic language detection chooses from: the languages people here speak
        or listen to, and the configured ones (among all 99 of Whisper's, a short Spanish
        sentence came out as Hindi)."""
        langs = set(self.allowed_languages)
        for p in self.participants.values():
            langs.add(p.listen)
            if p.speak != "auto":
                langs.add(p.speak)
        return tuple(sorted(langs))

    def _retarget(self) -> None:
        """Every pipeline translates into every language someone listens to, no more, and
        detects among the room's languages."""
        targets, candidates = self._targets(), self._candidates()
        modes = tuple(sorted({p.profanity for p in self.participants.values()}))
        for p in self.participants.values():
            if p.pipeline is not None:
                p.pipeline.set_targets(targets)
                p.pipeline.set_profanity(modes)
                # Configured languages make the set strict; the room's alone are a
                # preference, since a guest who left "auto" may speak none of them.
                p.pipeline.set_allowed(candidates, strict=bool(self.allowed_languages))

    # -- data channel ---------------------------------------------------------------------

    def _attach_channel(self, participant: Participant, channel: RTCDataChannel) -> None:
        if channel.label != "captions":
            return
        participant.channel = channel

        @channel.on("open")
        def on_open() -> None:
            self._welcome(participant)

        @channel.on("message")
        def on_message(message: Any) -> None:
            self._handle_message(participant, message)

        if channel.readyState == "open":
            self._welcome(participant)

    def _welcome(self, participant: Participant) -> None:
        participant.send(self._privacy_notice())
        participant.send(self._phrases_message())
        self._broadcast_participants()

    def _phrases_message(self) -> dict[str, Any]:
        return {"type": "phrases", "phrases": to_json(self.phrases)}

    def set_phrases(self, phrases: tuple[Phrase, ...]) -> None:
        """A new phrase list: every pipeline uses it from its next decode, and every page
        shows it."""
        self.phrases = phrases
        for p in self.participants.values():
            if p.pipeline is not None:
                p.pipeline.set_phrases(phrases)
        self._broadcast(self._phrases_message())

    def _privacy_notice(self) -> dict[str, Any]:
        return Notice("info", "transcribed", privacy_text(self.store)).to_wire()

    def _handle_message(self, participant: Participant, raw: Any) -> None:
        now = time.monotonic()
        participant.last_seen = now
        participant.received_messages += 1
        if self._messages.acquire(participant.id, now):
            participant.ignored_messages += 1
            if now - participant.flood_noticed > 5.0:
                participant.flood_noticed = now
                participant.send(Notice("warning", "rate-limited",
                                        "too many messages: some were ignored").to_wire())
            return
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "replace"))
        if size > MAX_MESSAGE:
            log.info("room %s: %s sent a %d-byte message: channel closed", self.name,
                     participant.id, size)
            participant.send(Notice("error", "message-too-large",
                                    "messages must be under 64 KiB: captions stopped; "
                                    "rejoin to get them back").to_wire())
            if participant.channel is not None:
                participant.channel.close()
            return
        if isinstance(raw, bytes):
            participant.send(Notice("warning", "bad-message",
                                    "messages must be JSON text").to_wire())
            return
        try:
            message = json.loads(raw)
            kind = message.get("type") if isinstance(message, dict) else None
        except ValueError:
            kind, message = None, {}
        if kind == "heartbeat":
            pass  # last_seen is refreshed by any message
        elif kind == "ping":
            participant.send({"type": "pong", "t": message.get("t")})
        elif kind == "transcribe" and isinstance(message.get("enabled"), bool):
            if message["enabled"] != participant.transcribe:
                participant.transcribe = message["enabled"]
                log.info("room %s: %s turned transcription %s", self.name, participant.id,
                         "on" if participant.transcribe else "off")
                self._broadcast_participants()
        elif kind == "listen" and message.get("lang") in self.listen_languages:
            if message["lang"] != participant.listen:
                participant.interpretation.clear()
            participant.listen = message["lang"]
            participant.source_captions = bool(message.get("source", False))
            self._retarget()
            self._broadcast_participants()
        elif kind == "profanity" and message.get("mode") in profanity.MODES:
            participant.profanity = message["mode"]
            self._retarget()
        elif kind == "speak" and (message.get("lang") == "auto"
                                  or message.get("lang") in self.speak_languages):
            changed = message["lang"] != participant.speak
            participant.speak = message["lang"]
            if changed and participant.pipeline is not None:
                participant.pipeline.set_language(None if participant.speak == "auto"
                                                  else participant.speak)
            self._retarget()
            self._broadcast_participants()
        else:
            participant.send(Notice(
                "warning", "bad-message",
                f"refused message {str(kind or raw)[:40]!r}: expected listen, speak, "
                "transcribe, profanity, ping or heartbeat").to_wire())

    def _broadcast(self, message: dict[str, Any]) -> None:
        for p in list(self.participants.values()):
            p.send(message)

    def _broadcast_participants(self) -> None:
        everyone = [p.public() for p in self.participants.values()]
        for p in list(self.participants.values()):
            p.send({"type": "participants",
                    "participants": [dict(entry, you=entry["id"] == p.id) for entry in everyone]})


def _as_read(caption: Caption, mode: str) -> dict[str, Any]:
    """A caption's wire message as a listener with this profanity setting reads it."""
    message = caption.to_wire()
    if mode != "raw":
        message["text"] = profanity.apply(caption.text, caption.lang, mode)
        message["committed"] = profanity.committed_for(caption.committed, message["text"],
                                                       caption.lang, mode)
        if "words" in message:  # word timings carry the words too
            words = [dict(w, text=profanity.apply(w["text"], caption.lang, mode))
                     for w in message["words"]]
            message["words"] = [w for w in words if w["text"]]
    return message
