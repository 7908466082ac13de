"""Janus room bots as Ray actors, and the server-side manager that places them.

`ClusterBots` has JanusBots' interface (ensure / status / close), so the server does not care
which it has. Each room's bot is a `RoomBot` actor that needs one unit of the custom resource
`interpres_room` (each node offers as many as rooms it should carry) and spreads over the
nodes. Its recognition goes through the Serve deployment (bot/cluster/recognition.py); its
translation engines and voices are its own.

An actor that dies, or whose node is lost, is restarted by Ray on a node with room to spare
(max_restarts=-1). The restarted actor has no room yet: the manager's watcher, which asks
every bot for its status every WATCH_EVERY seconds with the languages asked there, is what
makes it join again (`status` starts the bot when it is not running). Pages see the
interpreter's feeds go and come back, as after a Janus restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import ray
from prometheus_client import Counter, Gauge

from bot.janus.bots import JOIN_TIMEOUT, BotFailed, join_failure
from bot.janus.room import JanusOptions

log = logging.getLogger(__name__)
RECOGNITION_REPLICAS = Gauge("interpres_cluster_recognition_replicas",
                             "Replicas of the recognition Serve deployment running.")
ROOM_BOT_RESTARTS = Counter("interpres_cluster_room_bot_restarts",
                            "Room bots Ray restarted (their process or node was lost).")
ROOM_RESOURCE = "interpres_room"
WATCH_EVERY = 2.0
LOAD_TIMEOUT = 120.0  # a new actor loads translation engines and voices before it joins
STATUS_TIMEOUT = 10.0
GIVE_UP_AFTER = 60.0  # a bot that cannot rejoin its room (Janus gone, room destroyed)


class FinalsOutbox:
    """Stands in for the transcript store inside a room bot: the server's SQLite file is on
    another machine, so final captions wait here until the manager's next status call takes
    them (every WATCH_EVERY seconds; a lost node loses at most that much)."""

    LIMIT = 2000  # a manager that stopped asking must not make the bot grow without end

    def __init__(self) -> None:
        self.captions: list[tuple[str, Any]] = []

    def add(self, room: str, caption: Any) -> None:
        self.captions.append((room, caption))
        del self.captions[:-self.LIMIT]

    def take(self) -> list[tuple[str, Any]]:
        taken, self.captions = self.captions, []
        return taken


class RoomBot:
    """One Janus room's interpreter, in its own actor process."""

    def __init__(self, config: Any, template: JanusOptions, room: int,
                 pin: str | None, keep_transcript: bool = False) -> None:
        from bot.rtc.ice import restrict_host_addresses

        if config.ice_addresses:
            restrict_host_addresses(list(config.ice_addresses))
        self.config = config
        self.options = replace(template, room=room, pin=pin, targets=())
        self.node = ray.get_runtime_context().get_node_id()
        self.on_head = any(n["NodeID"] == self.node and "node:__internal_head__" in
                           n.get("Resources", {}) for n in ray.nodes())
        self.started = time.time()
        self.timeline: dict[str, float] = {"created": self.started}  # wall-clock times
        self.keep_transcript = keep_transcript
        self.outbox = FinalsOutbox()
        self.engines: Any = None
        self.room: Any = None
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        from bot.pipeline.engines import load_translation_and_voices

        # Loaded here, not on the first request, so a restarted actor (its node lost) loads
        # while the manager's next status call is on its way. Apertium's pairs start only
        # once the bot is in its room (`ensure`): a second sooner back, several on a busy
        # node. Configured CTranslate2 models belong to the translation deployment
        # (`_connect` puts its pairs first).
        self.router, self.voices = load_translation_and_voices(
            replace(config, translation_models=()), True, lambda m: None, warm=False)
        self._warming: asyncio.Task[None] | None = None
        self.timeline["loaded"] = time.time()

    async def _connect(self) -> None:
        if self.engines is not None:
            return
        from bot.cluster.recognition import ServeRecognition
        from bot.janus.room import JanusRoom
        from bot.pipeline.engines import Engines
        from bot.workers import Workers

        scheduler, asr, interim = await ServeRecognition.connect()
        if self.config.translation_models:
            from bot.cluster.translation import remote_pairs
            from bot.mt.router import TranslationRouter

            pairs = await remote_pairs()
            self.router.close()
            if pairs:
                self.router = TranslationRouter.from_system(translators=pairs)
            else:  # nobody deployed them (deploy_recognition = false): load them here
                self.router = await asyncio.to_thread(
                    TranslationRouter.from_system, None, self.config.translation_models)
        self.engines = Engines(asr=asr, router=self.router,  # type: ignore[arg-type]
                               voices=self.voices, workers=Workers(),
                               interim_asr=interim,  # type: ignore[arg-type]
                               scheduler=scheduler)  # type: ignore[arg-type]
        self.room = JanusRoom(self.options, self.engines,
                              self.outbox if self.keep_transcript else None)  # type: ignore[arg-type]

    async def ensure(self, languages: list[str]) -> dict[str, Any]:
        """In the room, interpreting into `languages`; raises ValueError for a language no
        engine or voice serves, and what joining raised (JanusError...) if it could not."""
        await self._connect()
        for lang in languages:
            if not self.room.ask(lang):
                raise ValueError(f"no engine or voice serves {lang}")
        if self.task is None or self.task.done():
            self.stop = asyncio.Event()
            self.task = asyncio.create_task(self.room.run(self.stop))
            joined = asyncio.create_task(self.room.joined.wait())
            done, _ = await asyncio.wait({self.task, joined}, timeout=JOIN_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            joined.cancel()
            if self.task in done:
                raise self.task.exception() or RuntimeError("the bot stopped")
            if not done:
                raise TimeoutError(f"not in room {self.options.room} within {JOIN_TIMEOUT} s")
            self.timeline["joined"] = time.time()
            if self._warming is None:
                self._warming = asyncio.create_task(asyncio.to_thread(self.router.warm_up))
        return self.status_now()

    async def status(self, languages: list[str]) -> dict[str, Any]:
        """The bot's state, and the final captions since the last call ("finals"); a bot
        that is not in its room (a restarted actor) joins again with `languages`, the ones
        asked for there."""
        if self.task is None or self.task.done():
            try:
                await self.ensure(languages)
            except Exception as error:  # noqa: BLE001 - reported, retried next watch
                log.warning("room %s: rejoining failed: %s", self.options.room, error)
        return {**self.status_now(), "finals": self.outbox.take()}

    def status_now(self) -> dict[str, Any]:
        room = self.room
        traffic = self.engines.scheduler.traffic if self.engines else None
        return {
            "node": self.node, "on_head": self.on_head, "pid": os.getpid(),
            "started": self.started, "timeline": self.timeline,
            "running": self.task is not None and not self.task.done(),
            "joins": room.joins if room else 0,
            "languages": sorted(room.feeds) if room else [],
            "people": len(room.people) if room else 0,
            "alone_for": (time.monotonic() - room.alone_since
                          if room and room.alone_since is not None else None),
            "recognition": {"served": traffic.served, "dropped": traffic.dropped,
                            "replicas": sorted(traffic.replicas)} if traffic else None,
        }

    async def leave(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 15)
        self.router.close()
        if self.engines is not None:
            self.engines.workers.close()


@dataclass
class ClusterBot:
    actor: Any
    languages: set[str]
    last: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    down: int = 0  # status calls in a row that found the bot out of its room


class ClusterBots:
    """JanusBots' interface, with each room's bot in a RoomBot actor on the cluster."""

    def __init__(self, template: JanusOptions, config: Any, leave_after: float,
                 store: Any = None) -> None:
        """`store`: the server's TranscriptStore; the bots' finals are added to it."""
        self.template = template
        self.store = store
        self.config = config
        self.leave_after = leave_after
        self.bots: dict[int, ClusterBot] = {}
        self._starting: dict[int, asyncio.Lock] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._actor_class = ray.remote(RoomBot)
        self.replicas = 0  # recognition replicas running, as the watcher last saw

    async def ensure(self, room: int, lang: str, pin: str | None = None) -> bool:
        lock = self._starting.setdefault(room, asyncio.Lock())
        async with lock:
            bot = self.bots.get(room)
            started = bot is None
            if bot is None:
                actor = self._actor_class.options(
                    name=f"interpres-room-{room}", num_cpus=0,
                    resources={ROOM_RESOURCE: 1}, max_restarts=-1, max_task_retries=-1,
                    scheduling_strategy="SPREAD").remote(self.config, self.template, room, pin,
                                                         self.store is not None)
                bot = ClusterBot(actor, set())
            try:
                bot.last = await asyncio.wait_for(
                    bot.actor.ensure.remote([lang]), LOAD_TIMEOUT + JOIN_TIMEOUT)
            except Exception as error:  # noqa: BLE001 - mapped to a status for the page
                if started:
                    with contextlib.suppress(Exception):
                        ray.kill(bot.actor, no_restart=True)
                raise self._failed(error, room) from None
            bot.languages.add(lang)
            if started:
                self.bots[room] = bot
                log.info("cluster: interpreter joined Janus room %d on node %s", room,
                         bot.last.get("node", "?")[:12])
            if self._watcher is None or self._watcher.done():
                self._watcher = asyncio.create_task(self._watch())
            return started

    def status(self) -> dict[int, dict[str, object]]:
        return {room: {"languages": bot.last.get("languages", []),
                       "people": bot.last.get("people", 0),
                       "node": bot.last.get("node"), "on_head": bot.last.get("on_head"),
                       "restarts": bot.restarts, "timeline": bot.last.get("timeline"),
                       "recognition": bot.last.get("recognition"),
                       "recognition_replicas": self.replicas}
                for room, bot in self.bots.items()}

    async def _watch(self) -> None:
        from bot.cluster.recognition import running_replicas

        while self.bots:
            await asyncio.sleep(WATCH_EVERY)
            try:
                self.replicas = await asyncio.to_thread(running_replicas)
                RECOGNITION_REPLICAS.set(self.replicas)
            except Exception:  # noqa: BLE001 - a status, not worth stopping the watch
                log.debug("cluster: serve status failed", exc_info=True)
            # All at once: a bot being restarted elsewhere answers only once it is back,
            # and must not hold up the others' status (and their transcripts).
            await asyncio.gather(*(self._check(room, bot)
                                   for room, bot in list(self.bots.items())))

    async def _check(self, room: int, bot: ClusterBot) -> None:
        try:
            status = await asyncio.wait_for(
                bot.actor.status.remote(sorted(bot.languages)), STATUS_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - restarting: ask again later
            log.warning("cluster: room %d's bot does not answer (%s)", room, error)
            return
        if bot.last and status["pid"] != bot.last.get("pid"):
            bot.restarts += 1
            ROOM_BOT_RESTARTS.inc()
            log.warning("cluster: room %d's bot was restarted on node %s", room,
                        status["node"][:12])
        for name, caption in status.pop("finals", []):
            if self.store is not None:
                self.store.add(name, caption)
        bot.last = status
        bot.down = 0 if status["running"] else bot.down + 1
        if bot.down * WATCH_EVERY >= GIVE_UP_AFTER:
            log.warning("cluster: room %d's bot could not rejoin for %.0f s: it leaves (a "
                        "page's request starts it again)", room, GIVE_UP_AFTER)
            await self._stop(room, bot)
            return
        alone = status.get("alone_for")
        if alone is not None and alone >= self.leave_after:
            log.info("cluster: nobody in room %d for %.0f s: the interpreter leaves", room,
                     alone)
            await self._stop(room, bot)

    async def _stop(self, room: int, bot: ClusterBot) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bot.actor.leave.remote(), 20)
        with contextlib.suppress(Exception):
            ray.kill(bot.actor, no_restart=True)
        self.bots.pop(room, None)

    async def close(self) -> None:
        for room, bot in list(self.bots.items()):
            await self._stop(room, bot)
        if self._watcher is not None:
            self._watcher.cancel()

    def _failed(self, error: BaseException, room: int) -> BotFailed:
        cause = getattr(error, "cause", None) or error  # RayTaskError carries the original
        if isinstance(cause, ValueError):
            return BotFailed(400, str(cause))
        if isinstance(cause, (TimeoutError, asyncio.TimeoutError)):
            return BotFailed(504, f"the interpreter was not in room {room} in time")
        return join_failure(cause, self.template.url)
