"""The interpreter joins Janus rooms by itself: `interpres serve`, with a Janus URL
configured, runs one JanusRoom bot per room on demand (a page asked for a language there),
adds languages to a bot already in the room, and takes a bot out of a room where no person
has been for `leave_after` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace

from bot.janus.api import JanusError, JanusUnreachable
from bot.janus.room import JanusOptions, JanusRoom
from bot.pipeline.engines import Engines
from bot.store import TranscriptStore

log = logging.getLogger(__name__)
JOIN_TIMEOUT = 20.0  # seconds a request waits for a new bot to be in the room
LEAVE_AFTER = 180.0  # default: a bot stays this long in a room nobody is in
WATCH_EVERY = 2.0


class BotFailed(RuntimeError):
    """A bot could not join; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RunningBot:
    room: JanusRoom
    task: asyncio.Task[None]
    stop: asyncio.Event
    started: float = field(default_factory=time.monotonic)


class JanusBots:
    def __init__(self, template: JanusOptions, engines: Engines,
                 leave_after: float = LEAVE_AFTER, store: TranscriptStore | None = None) -> None:
        """`template`: the Janus URL, secret, TURN, phrases... every bot shares; each gets
        its own room, PIN and languages. `store`: where their final captions are kept."""
        self.template = template
        self.engines = engines
        self.store = store
        self.leave_after = leave_after
        self.bots: dict[int, RunningBot] = {}
        self._starting: dict[int, asyncio.Lock] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def ensure(self, room: int, lang: str, pin: str | None = None) -> bool:
        """The bot is in `room` and interprets into `lang` (once its feed is published).
        Returns True when this call started the bot. Raises BotFailed."""
        lock = self._starting.setdefault(room, asyncio.Lock())
        async with lock:
            bot = self.bots.get(room)
            if bot is not None and not bot.task.done():
                if not bot.room.ask(lang):
                    raise BotFailed(400, f"no engine or voice serves {lang}")
                return False
            options = replace(self.template, room=room, pin=pin, targets=())
            janus_room = JanusRoom(options, self.engines, self.store)
            if not janus_room.ask(lang):
                raise BotFailed(400, f"no engine or voice serves {lang}")
            stop = asyncio.Event()
            task = asyncio.create_task(janus_room.run(stop))
            bot = RunningBot(janus_room, task, stop)
            joined = asyncio.create_task(janus_room.joined.wait())
            done, _ = await asyncio.wait({task, joined}, timeout=JOIN_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            joined.cancel()
            if task in done:
                raise join_failure(task.exception(), self.template.url)
            if not done:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
                raise BotFailed(504, f"Janus at {self.template.url} did not let the "
                                     f"interpreter into room {room} within "
                                     f"{JOIN_TIMEOUT:.0f} s")
            self.bots[room] = bot
            log.info("janus: interpreter joined room %d on request (%s)", room, lang)
            if self._watcher is None or self._watcher.done():
                self._watcher = asyncio.create_task(self._watch())
            return True

    def status(self) -> dict[int, dict[str, object]]:
        return {room: {"languages": sorted(bot.room.feeds), "people": len(bot.room.people)}
                for room, bot in self.bots.items()}

    async def _watch(self) -> None:
        while self.bots:
            await asyncio.sleep(WATCH_EVERY)
            now = time.monotonic()
            for room, bot in list(self.bots.items()):
                alone = bot.room.alone_since
                if bot.task.done():
                    self.bots.pop(room, None)
                    if not bot.task.cancelled() and bot.task.exception() is not None:
                        log.warning("janus: the interpreter in room %d stopped: %s", room,
                                    bot.task.exception())
                elif alone is not None and now - alone >= self.leave_after:
                    log.info("janus: nobody in room %d for %.0f s: the interpreter leaves",
                             room, now - alone)
                    await self._stop(room, bot)

    async def _stop(self, room: int, bot: RunningBot) -> None:
        bot.stop.set()
        try:
            await asyncio.wait_for(bot.task, 15)
        except Exception:  # a bot failing on its way out is gone all the same
            log.debug("janus: the bot of room %d stopped badly", room, exc_info=True)
        self.bots.pop(room, None)

    async def close(self) -> None:
        for room, bot in list(self.bots.items()):
            await self._stop(room, bot)
        if self._watcher is not None:
            self._watcher.cancel()


def join_failure(error: BaseException | None, url: str) -> BotFailed:
    if isinstance(error, JanusUnreachable):
        return BotFailed(502, f"cannot reach Janus at {url}: {error}")
    if isinstance(error, JanusError):
        status = {426: 404, 433: 403, 432: 409}.get(error.code, 502)
        return BotFailed(status, str(error))
    return BotFailed(500, f"the interpreter could not join: {error}")
