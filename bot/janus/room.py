"""JanusRoom: the bot as a guest in a Janus VideoRoom.

It keeps one Janus session (keepalives in bot/janus/api.py), joins the room with a control
handle that publishes nothing (it receives the room's publisher events), publishes one
interpretation feed per target language (bot/janus/peers.py) and subscribes to every other
publisher's audio through one multistream handle. Each publisher's audio feeds a speaker
pipeline named after their display name; captions go out on the data channel of the feed
in their language, synthesized speech on its audio.

Languages: those given (--to), plus any a participant asks for with {"type": "listen",
"lang": ...} on their data channel; an asked-for language nobody asked for again within
`idle_seconds` is unpublished. When the session is lost (Janus restarted, network), every
handle is rebuilt with backoff; mistakes a person must fix (wrong PIN, unknown room, room
full, missing API secret) stop the bot with the reason instead of looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from bot import languages
from bot.config_file import LEAD_SECONDS
from bot.events import Activity, Caption, Event, Speaker, SpeechAudio
from bot.janus.api import JanusError, JanusSession, JanusUnreachable
from bot.janus.peers import (
    Access,
    LanguageFeed,
    Stream,
    Subscriber,
    join_publisher,
    publish_language,
)
from bot.phrases import Phrase
from bot.pipeline.engines import Engines
from bot.pipeline.interpreter import InterpreterOptions
from bot.pipeline.recognizer import RecognizerOptions
from bot.pipeline.session import PipelineOptions, SpeakerPipeline, wall_clock
from bot.rtc.inbound import drain
from bot.rtc.speaker_feed import FINISH_TIMEOUT, SpeakerFeed
from bot.store import TranscriptStore
from bot.turn import TurnServer

log = logging.getLogger(__name__)
# Errors a retry cannot fix: say them and stop.
FATAL = {403, 426, 432, 433, 428}
BACKOFF = (0.5, 1.0, 2.0, 3.0)
CONTROL_DISPLAY = "Interpres"


@dataclass(frozen=True)
class JanusOptions:
    url: str
    room: int
    pin: str | None = None
    api_secret: str | None = None
    token: str | None = None
    targets: tuple[str, ...] = ("en",)
    # Languages automatic detection may choose besides the published ones (see _candidates).
    allowed: tuple[str, ...] = ()
    # An asked-for language is dropped this long after the last request for it.
    idle_seconds: float = 300.0
    keepalive_every: float = 25.0
    # TURN for the bot's own peer connections (credentials minted per connection).
    turn: TurnServer | None = None
    # The phrase list ([[phrases]] of interpres.toml).
    phrases: tuple[Phrase, ...] = ()
    # See RecognizerOptions ([asr] lead_seconds).
    lead_seconds: float = LEAD_SECONDS


@dataclass
class Talker:
    """One remote publisher being interpreted."""

    feed: int
    name: str
    pipeline: SpeakerPipeline
    audio: SpeakerFeed
    listening: asyncio.Task[None] | None = None
    speaking: asyncio.Task[None] | None = None


class JanusRoom:
    def __init__(self, options: JanusOptions, engines: Engines,
                 store: TranscriptStore | None = None) -> None:
        """`store`: where final captions are kept (under "janus-<room>"), if anywhere."""
        self.options = options
        self.engines = engines
        self.store = store
        self.store_room = f"janus-{options.room}"
        # What publishers said of themselves on their data channel (by feed): the language
        # they speak, and whether they opted out of being transcribed.
        self.declared: dict[int, str] = {}
        self.opted_out: set[int] = set()
        self.access = Access(options.room, options.pin, options.turn)
        self.session: JanusSession | None = None
        self.feeds: dict[str, LanguageFeed] = {}
        self.talkers: dict[int, Talker] = {}
        self.subscriber: Subscriber | None = None
        self.asked: dict[str, float] = {}  # language -> when someone last asked for it
        self.joined = asyncio.Event()  # set on every successful (re)join
        # The room's other publishers (people), and since when there has been none.
        self.people: set[int] = set()
        self.alone_since: float | None = time.monotonic()
        self.joins = 0
        self._clock = wall_clock()
        self._own_feeds: set[int] = set()
        self._control: int | None = None
        self._publishing: set[str] = set()
        # Work started from Janus callbacks; held here so the loop cannot drop it half done.
        self._background: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stay in the room until `stop` is set; rejoin whenever the session is lost."""
        stop = stop or asyncio.Event()
        failures = 0
        while not stop.is_set():
            try:
                await self._connect()
                failures = 0
                assert self.session is not None
                lost = asyncio.create_task(self.session.lost.wait())
                stopped = asyncio.create_task(stop.wait())
                expiry = asyncio.create_task(self._expire_languages())
                await asyncio.wait({lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
                for task in (lost, stopped, expiry):
                    task.cancel()
                if not stop.is_set():
                    log.warning("janus: session lost; rejoining room %s", self.options.room)
            except JanusError as error:
                if error.code in FATAL or (self.joins == 0 and not error.session_lost):
                    await self._teardown()
                    raise
                log.warning("janus: %s; retrying", error)
            except JanusUnreachable as error:
                if self.joins == 0 and failures >= len(BACKOFF):
                    await self._teardown()
                    raise
                log.warning("janus: unreachable (%s); retrying", error)
            await self._teardown()
            if stop.is_set():
                break
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1
        await self._teardown()

    async def _connect(self) -> None:
        options = self.options
        # A rejoin starts from what Janus says now (events may arrive before join returns).
        self.people.clear()
        session = self.session = JanusSession(options.url, options.api_secret, options.token,
                                              keepalive_every=options.keepalive_every)
        await session.create()
        self._control, feed_id, private_id, publishers = await join_publisher(
            session, self.access, CONTROL_DISPLAY, self._on_control_event)
        self._own_feeds = {feed_id}
        self.subscriber = Subscriber(session, self.access, private_id, self._on_track,
                                     self._on_gone, self._on_data)
        for lang in self._languages():
            await self._publish(lang)
        others = self._others(publishers)
        self._seen({int(p["id"]) for p in others}, set())
        await self.subscriber.subscribe(others)
        self.joins += 1
        self.joined.set()
        log.info("janus: in room %s (join %d): publishing %s, %d other publisher(s)",
                 options.room, self.joins, ", ".join(sorted(self.feeds)) or "nothing",
                 len(self.subscriber.feeds))

    async def _teardown(self) -> None:
        self.joined.clear()
        for talker in list(self.talkers.values()):
            await self._drop_talker(talker.feed, finish=False)
        session = self.session
        if session is None:
            return
        if self.subscriber is not None:
            with contextlib.suppress(Exception):
                await self.subscriber.close()
            self.subscriber = None
        for feed in list(self.feeds.values()):
            with contextlib.suppress(Exception):
                await feed.close(session)
        self.feeds.clear()
        self._publishing.clear()
        await session.destroy()
        self.session = None

    # -- languages ------------------------------------------------------------------------

    def _languages(self) -> list[str]:
        return sorted(set(self.options.targets) | set(self.asked))

    async def _publish(self, lang: str) -> None:
        if lang in self.feeds or lang in self._publishing or self.session is None:
            return
        self._publishing.add(lang)
        try:
            feed = await publish_language(self.session, self.access, lang,
                                          self._ignore_event)
        finally:
            self._publishing.discard(lang)
        self.feeds[lang] = feed
        self._own_feeds.add(feed.feed_id)
        self._retarget()

    async def _unpublish(self, lang: str) -> None:
        feed = self.feeds.pop(lang, None)
        if feed is not None and self.session is not None:
            self._retarget()
            await feed.close(self.session)
            log.info("janus: nobody asked for %s lately: unpublished", lang)

    def _candidates(self) -> tuple[str, ...]:
        """What automatic detection chooses from: the configured languages (among all 99 of
        Whisper's, a Spanish sentence came out Hindi) and those the meeting listens to. A
        Janus publisher declares no language, so without configured ones nothing is
        narrowed: a meeting that only asked for English may still have Spanish speakers."""
        if not self.options.allowed:
            return ()
        return tuple(sorted(set(self._languages()) | set(self.options.allowed)))

    def _retarget(self) -> None:
        targets = tuple(sorted(self.feeds))
        candidates = self._candidates()
        for talker in self.talkers.values():
            talker.pipeline.set_targets(targets)
            talker.pipeline.set_allowed(candidates)

    async def _expire_languages(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.options.idle_seconds / 2))
            now = time.monotonic()
            for lang, when in list(self.asked.items()):
                if now - when > self.options.idle_seconds and lang not in self.options.targets:
                    del self.asked[lang]
                    await self._unpublish(lang)

    def _on_data(self, raw: Any) -> None:
        """A participant's data message (relayed by Janus): `listen` (a language they want),
        and, naming their own feed (Janus does not say whose message it is), `speak` (the
        language they speak, or "auto") and `transcribe` (false: opt out)."""
        if not isinstance(raw, str) or len(raw) > 4096:
            return
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind, feed = message.get("type"), message.get("feed")
        if kind == "listen" and isinstance(message.get("lang"), str):
            self.ask(message["lang"])
        elif not isinstance(feed, int) or isinstance(feed, bool) or feed in self._own_feeds:
            return
        elif kind == "speak" and (message.get("lang") == "auto"
                                  or message.get("lang") in languages.NAMES):
            lang = None if message["lang"] == "auto" else message["lang"]
            if self.declared.get(feed) != lang:
                if lang is None:
                    self.declared.pop(feed, None)
                else:
                    self.declared[feed] = lang
                talker = self.talkers.get(feed)
                if talker is not None:
                    talker.pipeline.set_language(lang)
        elif kind == "transcribe" and isinstance(message.get("enabled"), bool):
            if message["enabled"]:
                self.opted_out.discard(feed)
            else:
                self.opted_out.add(feed)

    def _can_serve(self, lang: str) -> bool:
        voices = self.engines.voices
        has_voice = voices is None or voices.voice_for(lang) is not None
        router = self.engines.router
        return has_voice and (lang == "en" or any(lang in router.reachable(s)
                                                 for s in ("en", "es")))

    async def _publish_quietly(self, lang: str) -> None:
        try:
            await self._publish(lang)
        except Exception:  # one language failing to publish must not stop the room
            log.exception("janus: publishing %s failed", lang)

    # -- publishers coming and going ------------------------------------------------------

    def _others(self, publishers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for p in publishers if int(p["id"]) not in self._own_feeds
                and not str(p.get("display", "")).startswith(("Interpreter ·",
                                                               CONTROL_DISPLAY))]

    def _ignore_event(self, event: dict[str, Any]) -> None:
        """Events on the language feeds' handles: the control handle already hears all."""

    def _on_control_event(self, event: dict[str, Any]) -> None:
        data = event.get("plugindata", {}).get("data", {})
        if data.get("videoroom") not in ("event", "talking", "stopped-talking"):
            return
        publishers = self._others(data.get("publishers", []))
        if publishers and self.subscriber is not None:
            self._spawn(self._subscribe(publishers))
        left: set[int] = set()
        for key in ("unpublished", "leaving"):
            gone = data.get(key)
            if isinstance(gone, int) and gone not in self._own_feeds:
                left.add(gone)
                self._spawn(self._forget(gone))
        self._seen({int(p["id"]) for p in publishers}, left)

    def _seen(self, came: set[int], left: set[int]) -> None:
        self.people = (self.people | came) - left
        if self.people:
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = time.monotonic()

    def ask(self, lang: str) -> bool:
        """Someone wants `lang` (the page's request through the server, or a `listen` data
        message): publish its interpreter feed if there is none. False if no engine or
        voice serves it."""
        if not self._can_serve(lang):
            return False
        self.asked[lang] = time.monotonic()
        if lang not in self.feeds and self.session is not None:
            log.info("janus: a participant asked for %s", lang)
            self._spawn(self._publish_quietly(lang))
        return True

    async def _subscribe(self, publishers: list[dict[str, Any]]) -> None:
        if self.subscriber is None:
            return
        try:
            await self.subscriber.subscribe(publishers)
        except (JanusError, JanusUnreachable) as error:
            log.warning("janus: could not subscribe to new publishers: %s", error)

    async def _forget(self, feed: int) -> None:
        """A publisher left: the subscription forgets its streams (whose on_gone drops the
        talker)."""
        if self.subscriber is not None:
            await self.subscriber.forget(feed)

    # -- media ----------------------------------------------------------------------------

    def _on_track(self, stream: Stream, track: MediaStreamTrack) -> None:
        self._spawn(self._start_talker_quietly(stream, track))

    async def _start_talker_quietly(self, stream: Stream, track: MediaStreamTrack) -> None:
        try:
            await self._start_talker(stream, track)
        except Exception:  # one publisher failing must not take the room down
            log.exception("janus: could not start interpreting feed %s", stream.feed)

    def _on_gone(self, stream: Stream) -> None:
        self._spawn(self._drop_talker(stream.feed))

    async def _start_talker(self, stream: Stream, track: MediaStreamTrack) -> None:
        if stream.feed in self.talkers:
            return
        name = stream.display or f"feed {stream.feed}"
        phrases = self.options.phrases
        options = PipelineOptions(recognizer=RecognizerOptions(
                                      language=self.declared.get(stream.feed),
                                      allowed=self._candidates(), phrases=phrases,
                                      lead_seconds=self.options.lead_seconds),
                                  interpreter=InterpreterOptions(
                                      targets=tuple(sorted(self.feeds)), phrases=phrases))
        pipeline = SpeakerPipeline(Speaker(f"f{stream.feed}", name), self.engines, options,
                                   clock=self._clock)
        await pipeline.__aenter__()
        talker = Talker(stream.feed, name, pipeline, SpeakerFeed(pipeline))
        self.talkers[stream.feed] = talker
        talker.audio.start()
        talker.listening = asyncio.create_task(self._listen(talker, track))
        talker.speaking = asyncio.create_task(self._speak(talker))
        log.info("janus: interpreting %s (feed %s)", name, stream.feed)

    async def _drop_talker(self, feed: int, finish: bool = True) -> None:
        """A publisher left. With `finish`, what they said last is still finalised,
        translated and spoken on the language feeds (bounded by FINISH_TIMEOUT)."""
        talker = self.talkers.pop(feed, None)
        if talker is None:
            return
        if talker.listening is not None:
            talker.listening.cancel()
            await asyncio.gather(talker.listening, return_exceptions=True)
        if not await talker.audio.release(talker.speaking, finish):
            log.warning("janus: %s's last utterance not finished in %.0f s", talker.name,
                        FINISH_TIMEOUT)
        log.info("janus: %s left", talker.name)

    async def _listen(self, talker: Talker, track: MediaStreamTrack) -> None:
        async def on_audio(mono: np.ndarray | None, rate: int, speech: np.ndarray) -> None:
            if talker.feed in self.opted_out:
                # As in the built-in room: the clock goes on, their voice is never heard.
                speech = np.zeros(len(speech), np.float32)
            await talker.audio.audio(speech)

        await drain(track, on_audio)

    async def _speak(self, talker: Talker) -> None:
        async for event in talker.pipeline.events():
            try:
                self._dispatch(event, talker)
            except Exception:  # one bad event must not stop this speaker's captions
                log.exception("janus: dispatch failed")

    def _dispatch(self, event: Event, talker: Talker | None = None) -> None:
        if isinstance(event, Activity) and talker is not None:
            # Every page highlights who speaks: on every language's captions channel.
            message = {"type": "activity", "id": f"f{talker.feed}", "speaking": event.speaking}
            for feed in self.feeds.values():
                feed.send(message)
        elif isinstance(event, Caption):
            if event.final and self.store is not None:
                self.store.add(self.store_room, event)
            message = event.to_wire()
            if event.is_source:
                # The speaker's own words go to every language's channel: pages show them
                # with "Show original text" (and ignore them otherwise).
                for feed in self.feeds.values():
                    feed.send(message)
            elif (feed := self.feeds.get(event.lang)) is not None:
                feed.send(message)
        elif isinstance(event, SpeechAudio):
            feed = self.feeds.get(event.lang)
            if feed is not None:
                feed.track.push(event.samples)
