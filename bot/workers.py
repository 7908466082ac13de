"""The one place where model work leaves the event loop.

Whisper decodes are not here: they go through the recognition scheduler's one thread
(bot/asr/scheduler.py), which orders and batches them. Translation gets its own threads and
speech synthesis its own, so a slow voice never delays recognition or a caption. Lazy generators
(faster-whisper's segments) must be consumed inside the function handed to these methods,
never on the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Workers:
    def __init__(self, engine_threads: int = 2, tts_threads: int = 1) -> None:
        self._engines = ThreadPoolExecutor(engine_threads, thread_name_prefix="interpres-engine")
        self._tts = ThreadPoolExecutor(tts_threads, thread_name_prefix="interpres-tts")

    async def engine(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Translation and other short engine calls (VAD scoring)."""
        return await self._run(self._engines, fn, *args, **kwargs)

    async def tts(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(self._tts, fn, *args, **kwargs)

    @staticmethod
    async def _run(pool: ThreadPoolExecutor, fn: Callable[..., T], *args, **kwargs) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await loop.run_in_executor(pool, call)

    def close(self) -> None:
        self._engines.shutdown(wait=True, cancel_futures=True)
        self._tts.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
