"""Peer-connection chores aiortc leaves to its callers.

aiortc starts its connection task with a bare `ensure_future` from setRemoteDescription and
setLocalDescription and never looks at it again. When an offer is broken in a way its parser
accepted (a fuzzed section, a transport it could not set up), that task fails and asyncio
logs "Task exception was never retrieved" at ERROR. `adopting_connect_tasks` finds the task
and retrieves its outcome, logging the failure for what it is: one peer that could not
connect. `close_quietly` closes a peer connection that may be half set up, never raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from aiortc import RTCPeerConnection

log = logging.getLogger(__name__)


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("peer connection setup failed: %r", task.exception())


@contextlib.contextmanager
def adopting_connect_tasks() -> Iterator[None]:
    before = asyncio.all_tasks()
    try:
        yield
    finally:
        for task in asyncio.all_tasks() - before:
            if task.get_coro().__qualname__.endswith("__connect"):
                task.add_done_callback(_retrieve)


async def close_quietly(pc: RTCPeerConnection) -> None:
    try:
        await pc.close()
    except Exception as problem:  # a half set-up connection: closing it is all we want
        log.info("closing a peer connection failed: %r", problem)


def quiet_orphaned_send_errors(loop: asyncio.AbstractEventLoop) -> None:
    """aiortc's data channel sends run as fire-and-forget tasks too: when a peer's transport
    closes under them they fail with ConnectionError, which asyncio logs at ERROR as "Task
    exception was never retrieved". That is a peer leaving, not a server fault: log it at
    INFO and leave every other exception to the usual handler."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        error = context.get("exception")
        future = context.get("future")
        coro = future.get_coro() if isinstance(future, asyncio.Task) else None
        name = getattr(coro, "__qualname__", "")
        if isinstance(error, ConnectionError) and name.rpartition("<locals>.")[2].startswith(
                "RTCSctpTransport."):
            log.info("a peer's transport closed while sending: %r", error)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
